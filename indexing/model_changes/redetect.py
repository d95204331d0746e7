"""Redetect: every indexed photo detected again with new detector weights, its crops replaced at once.

Photos are taken in id order, REDETECT_BATCH_SIZE at a time: detected with the new
weights, cropped and embedded with the served CLIP (so vectors stay comparable), and
each batch's crops replace the old ones in one transaction together with the change's
progress and cursor (indexing.pipeline.store.replace_crops). Search sees a photo's old crops
or its new ones, never both or neither; a crash resumes after the last batch. What was
hidden stays hidden (indexing.catalog.curation.restore_hidden): a new crop overlapping a crop a
curator hid (IoU >= CARRY_IOU) is hidden by the curator too, and every new crop of a
photo that lost a duplicate review is hidden as a duplicate. Photos
added while it runs are detected with the new weights already (indexing.served_models).
When done, the served index is updated (the replaced crops make it a rebuild).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet

from indexing import served_models
from indexing.ann import builds
from indexing.catalog import curation
from indexing.catalog.stored_files import decode_stored_image
from indexing.duplicates import matching as duplicates
from indexing.model_changes import lifecycle as model_changes
from indexing.models import Dataset, ModelChange, SourceImage
from indexing.pipeline.batch import analyse_batch
from indexing.pipeline.store import AnalysedImage, replace_crops
from indexing.vision.crops import CropPolicy
from indexing.vision.detector import Detector, get_detector
from indexing.vision.errors import ImageError
from indexing.vision.weights.resolve import configured_weights_spec

logger = logging.getLogger(__name__)


def start_redetect(*, weights: str | None = None) -> ModelChange:
    """Open a redetect with ``weights`` (the configured ones by default), or reopen the one open to them.

    Loads the weights first: ones that cannot load are refused before anything is recorded.
    """
    source = str(weights or configured_weights_spec())
    detector = get_detector(source)
    if (
        model_changes.open_change(ModelChange.Kind.DETECTOR) is None
        and not photos_to_redetect(version=detector.version).exists()
    ):
        raise model_changes.ChangeRefused(f"Every indexed photo is already detected by {detector.version}.")
    last = indexed_photos().aggregate(last=Max("pk"))["last"] or 0
    return model_changes.open_or_resume(
        kind=ModelChange.Kind.DETECTOR,
        source=source,
        version=detector.version,
        total=indexed_photos().filter(pk__lte=last).count(),
        last_image_id=last,
    )


def indexed_photos() -> QuerySet[SourceImage]:
    return SourceImage.objects.filter(status=SourceImage.Status.DONE, dataset__status=Dataset.Status.ACTIVE)


def photos_to_redetect(*, version: str) -> QuerySet[SourceImage]:
    """Indexed photos with a crop another detector found (photos without crops cannot tell)."""
    return indexed_photos().filter(crops__isnull=False).exclude(crops__detector_version=version).distinct()


def run_redetect(*, change_id: int, progress: Callable[[ModelChange], None] | None = None) -> ModelChange:
    """Detect the change's photos again, batch by batch from its cursor, then update the served index."""
    change = ModelChange.objects.get(pk=change_id)
    with model_changes.running(change) as go:
        if go:
            detector = model_changes.load_model(change, get_detector)
            while batch := next_batch(change):
                try:
                    redetect_batch(change, detector, batch)
                except served_models.ModelChanged:  # a re-embed switched CLIP meanwhile: embed with the new one
                    redetect_batch(change, detector, batch)
                change.refresh_from_db()
                if progress is not None:
                    progress(change)
            model_changes.finish(change.pk)
            if not builds.index_is_current():
                builds.update_index()
    change.refresh_from_db()
    return change


def next_batch(change: ModelChange) -> list[SourceImage]:
    photos = indexed_photos().filter(pk__gt=change.cursor, pk__lte=change.last_image_id).order_by("pk")
    return list(photos[: settings.REDETECT_BATCH_SIZE])


def redetect_batch(change: ModelChange, detector: Detector, photos: list[SourceImage]) -> None:
    """Detect, crop and embed the photos; replace their crops, and advance the change, in one transaction.

    A photo whose file cannot be read keeps its crops (logged); the models failing on
    one photo keep its crops too: redetect never loses what search had.
    """
    decoded = []
    for photo in photos:
        try:
            decoded.append((photo, decode_stored_image(photo)))
        except ImageError as exc:
            logger.warning("Redetect %s: photo %s keeps its crops: %s", change.pk, photo.pk, exc)
    embedder = served_models.embedder()
    outcomes = analyse_batch([pixels for _, pixels in decoded], detector, embedder, CropPolicy.from_settings())
    analysed = []
    for (photo, pixels), outcome in zip(decoded, outcomes, strict=True):
        if isinstance(outcome, str):
            logger.warning("Redetect %s: photo %s keeps its crops: %s", change.pk, photo.pk, outcome)
            continue
        analysed.append(AnalysedImage(photo, pixels.size, *outcome))
    ids = [item.image.pk for item in analysed]

    def also() -> None:
        curation.restore_hidden(hidden, ids)  # curators' and duplicate reviews' hides carried over
        model_changes.advance(change.pk, processed=len(photos), cursor=photos[-1].pk)

    with transaction.atomic():  # the old crops locked from this read until their replacement commits
        hidden = curation.hidden_state(ids)
        replace_crops(
            analysed,
            detector_version=detector.version,
            embedder_version=embedder.version,
            tag=file_tag(detector.version),
            also=also,
        )
    for item in analysed:
        duplicates.store_photo_vector(item.image)  # its vector follows its new crops


def file_tag(version: str) -> str:
    """A short, file-name-safe tag of the detector version for the new crops' file names."""
    return "d" + hashlib.sha256(version.encode()).hexdigest()[:8]
