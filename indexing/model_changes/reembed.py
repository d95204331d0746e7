"""Re-embed: every crop gets a vector from another CLIP, and search switches over only when all have one.

1. Crops are taken in id order, cut again from their photos (the box the detector
   found, padded as the pipeline pads it) and embedded with the new model; the
   vectors are staged beside the crops (StagedEmbedding) with the change's progress
   and cursor, one transaction per batch: a crash resumes after the last batch.
   Search meanwhile serves the old model's vectors and index untouched.
2. When every crop has a new vector, a FAISS index of the new version is built from
   the staged vectors (indexing.ann.builds.publish_build, staged).
3. The switch, in one transaction holding the store lock alone (no batch can store a
   crop meanwhile): crops stored since are embedded too, every crop takes its new
   vector and version, photo vectors for duplicate matching are recomputed, and the
   change is marked done. From that commit on, queries and new crops use the new
   model (indexing.served_models) and search reads the new index.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from PIL import Image

from indexing.ann import builds
from indexing.catalog.stored_files import decode_stored_image
from indexing.model_changes import lifecycle as model_changes
from indexing.models import Crop, ModelChange, SourceImage, StagedEmbedding
from indexing.models.duplicates import PhotoFingerprint
from indexing.served_models import served_embedder_version
from indexing.vectors import STORE_LOCK, newest_stored_crop_id
from indexing.vision.crops import CropPolicy, crop_box, crop_image
from indexing.vision.embedder import Embedder, get_embedder
from indexing.vision.errors import ImageError

logger = logging.getLogger(__name__)

# Crops stored during the build are embedded outside the switch's lock while more than this many wait.
SWITCH_LEFTOVER = 64


@dataclass(frozen=True)
class CropRow:
    pk: int
    image_id: int
    box: tuple[float, float, float, float]


def start_reembed(*, model: str | None = None) -> ModelChange:
    """Open a re-embed to ``model`` (CLIP_MODEL by default), or reopen the one open to it.

    Loads the model first: one that cannot load, or whose vectors do not fit the
    collection's dimension, is refused before anything is recorded.
    """
    source = str(model or settings.CLIP_MODEL)
    embedder = get_embedder(source)
    if embedder.dim != settings.EMBEDDING_DIM:
        raise model_changes.ChangeRefused(
            f"{embedder.version} makes {embedder.dim}-d vectors; the collection stores {settings.EMBEDDING_DIM}-d ones."
        )
    current = model_changes.open_change(ModelChange.Kind.EMBEDDER)
    if current is None and embedder.version == served_embedder_version():
        raise model_changes.ChangeRefused(f"Every crop is already embedded by {embedder.version}.")
    return model_changes.open_or_resume(
        kind=ModelChange.Kind.EMBEDDER,
        source=source,
        version=embedder.version,
        total=Crop.objects.exclude(embedder_version=embedder.version).count(),
    )


def run_reembed(*, change_id: int, progress: Callable[[ModelChange], None] | None = None) -> ModelChange:
    """Stage new vectors for every crop, build the new index, then switch; resumes where a previous run stopped."""
    change = ModelChange.objects.get(pk=change_id)
    with model_changes.running(change) as go:
        if go:
            drop_leftover_staged()
            embedder = model_changes.load_model(change, get_embedder)
            stage_all(change, embedder, progress)
            change.refresh_from_db()
            with builds.index_writer():
                build = builds.publish_build(version=change.version, staged=True, max_crop_id=change.cursor)
            logger.info("Re-embed %s: index build %s of %s ready; switching", change.pk, build.pk, change.version)
            switch(change, embedder)
            after_switch(change)
    change.refresh_from_db()
    return change


def stage_all(change: ModelChange, embedder: Embedder, progress=None, *, until_left: int = 0) -> None:
    """Stage batches until at most ``until_left`` crops wait.

    The cursor only passes ids every store transaction has committed (newest_stored_crop_id
    waits for those in flight): a crop committed late with a smaller id is never skipped.
    """
    while True:
        bound = newest_stored_crop_id()
        change.refresh_from_db()
        while batch := list(waiting_crops(change, up_to=bound)[: settings.MODEL_CHANGE_BATCH_SIZE]):
            stage_batch(change, embedder, batch)
            change.refresh_from_db()
            if progress is not None:
                progress(change)
        if waiting_crops(change)[: until_left + 1].count() <= until_left:
            return


def waiting_crops(change: ModelChange, *, up_to: int | None = None) -> QuerySet[CropRow]:
    """Crops after the cursor (up to ``up_to``) not made by the new model, in id order, as (pk, image, box) rows."""
    crops = Crop.objects.filter(pk__gt=change.cursor).exclude(embedder_version=change.version)
    if up_to is not None:
        crops = crops.filter(pk__lte=up_to)
    return crops.order_by("pk").values_list("pk", "image_id", "x1", "y1", "x2", "y2", named=True)


def stage_batch(change: ModelChange, embedder: Embedder, rows) -> None:
    """Embed a batch of crops again and stage their vectors, the change's progress and cursor with them."""
    crops = [CropRow(row.pk, row.image_id, (row.x1, row.y1, row.x2, row.y2)) for row in rows]
    vectors = embedder.embed_images(cut_again(crops))
    with transaction.atomic():
        StagedEmbedding.objects.bulk_create(
            [
                StagedEmbedding(crop_id=c.pk, version=change.version, embedding=v)
                for c, v in zip(crops, vectors, strict=True)
            ],
            update_conflicts=True,
            unique_fields=["version", "crop"],
            update_fields=["embedding"],
        )
        model_changes.advance(change.pk, processed=len(crops), cursor=crops[-1].pk)


def cut_again(crops: list[CropRow]) -> list[Image.Image]:
    """Each crop's pixels, cut from its photo as the pipeline cut them (each photo decoded once)."""
    policy = CropPolicy.from_settings()
    photos: dict[int, Image.Image] = {}
    pixels = []
    for crop in crops:
        if crop.image_id not in photos:
            photos[crop.image_id] = read_photo(crop.image_id)
        photo = photos[crop.image_id]
        # A policy changed since may now reject the box: then the bare detection box is used.
        box = crop_box(crop.box, photo.size, policy) or tuple(int(round(v)) for v in crop.box)
        pixels.append(crop_image(photo, box))
    return pixels


def read_photo(image_id: int) -> Image.Image:
    image = SourceImage.objects.get(pk=image_id)
    try:
        return decode_stored_image(image)
    except ImageError as exc:
        raise ImageError(
            f"Cannot re-embed the crops of photo {image_id}: {exc}. Restore its file, then resume."
        ) from exc


def switch(change: ModelChange, embedder: Embedder) -> None:
    """Give every crop its new vector and make the new model the served one, in one transaction."""
    stage_all(change, embedder, until_left=SWITCH_LEFTOVER)  # crops stored during the build
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [STORE_LOCK])  # no store step commits meanwhile
        stage_all(change, embedder)
        crops, staged = Crop._meta.db_table, StagedEmbedding._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {crops} c SET embedding = s.embedding, embedder_version = s.version "
                f"FROM {staged} s WHERE s.crop_id = c.id AND s.version = %s",
                [change.version],
            )
            switched = cursor.rowcount
            # Photo vectors for duplicate matching: the mean direction of their crops' new vectors (cosine only).
            cursor.execute(
                f"UPDATE {PhotoFingerprint._meta.db_table} f SET vector = m.mean "
                f"FROM (SELECT image_id, AVG(embedding) AS mean FROM {crops} GROUP BY image_id) m "
                "WHERE m.image_id = f.image_id"
            )
        model_changes.finish(change.pk)
    logger.info("Re-embed %s switched %d crops to %s", change.pk, switched, change.version)


def drop_leftover_staged() -> int:
    """Staged vectors of re-embeds that are done: a crash between the switch and after_switch left them.

    Kept for a version an open change stages again (a re-embed back to an earlier model).
    Runs as the next re-embed starts or resumes; returns how many rows went.
    """
    done = ModelChange.objects.filter(kind=ModelChange.Kind.EMBEDDER, status=ModelChange.Status.DONE)
    open_versions = ModelChange.objects.filter(kind=ModelChange.Kind.EMBEDDER).exclude(status=ModelChange.Status.DONE)
    leftover = StagedEmbedding.objects.filter(version__in=done.values("version")).exclude(
        version__in=open_versions.values("version")
    )
    deleted, _ = leftover.delete()
    return deleted


def after_switch(change: ModelChange) -> None:
    """Drop the staged copies, and take the crops stored during the switch into the index."""
    StagedEmbedding.objects.filter(version=change.version).delete()
    builds.prune_builds(settings.ANN_KEEP_BUILDS)
    if not builds.index_is_current():
        builds.update_index()
