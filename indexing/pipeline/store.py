"""The pipeline's store step: a batch's crops written and its images marked done, at once.

One transaction per batch: the pending images are locked, every crop row goes in
with one binary COPY (indexing.vectors.copy_crop_rows), and the images are marked
done in one UPDATE. bench/store.py measured it against the per-image ORM path it
replaced (docs/scaling.md). Crop files are written first under deterministic
names, so a crash before the commit leaves files that the retry overwrites rather
than duplicates.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image

from indexing.catalog.stored_files import delete_files
from indexing.models import Crop, SourceImage, crop_file_name
from indexing.served_models import require_served
from indexing.vectors import copy_crop_rows, lock_for_store
from indexing.vision.crops import PlannedCrop

CROP_JPEG_QUALITY = 90
# Threads writing crop files: JPEG encoding and storage I/O release the GIL.
FILE_WRITERS = 8


@dataclass(frozen=True)
class AnalysedImage:
    """An image with the crops the models found in it and their vectors, ready to store."""

    image: SourceImage
    size: tuple[int, int]
    crops: Sequence[PlannedCrop]
    vectors: Sequence


def store_batch(analysed: Sequence[AnalysedImage], *, detector_version: str, embedder_version: str) -> set[int]:
    """Write the crops of each still-pending image and mark it done; returns the ids stored.

    An image that is no longer pending (a redelivered batch, another worker) is left
    as it is and its crops are not written twice.
    """
    names = save_crop_files(analysed)
    now = timezone.now()
    with transaction.atomic():
        enter_store(detector_version=detector_version, embedder_version=embedder_version)
        # Only the images' rows, in id order: the model's default ordering joins the dataset, and
        # FOR UPDATE would lock its row too, serialising every worker's store step on it.
        pending = set(
            SourceImage.objects.select_for_update(of=("self",))
            .filter(pk__in=[a.image.pk for a in analysed], status=SourceImage.Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        stored = [a for a in analysed if a.image.pk in pending]
        copy_crop_rows(crop_rows(stored, names, detector_version, embedder_version, now))
        SourceImage.objects.filter(pk__in=[a.image.pk for a in stored]).update(
            status=SourceImage.Status.DONE, error="", processed=now
        )
        # Ingest records the size already; only images stored without it need a per-row update.
        resized = [a for a in stored if (a.image.width, a.image.height) != a.size]
        for a in resized:
            a.image.width, a.image.height = a.size
        SourceImage.objects.bulk_update([a.image for a in resized], ["width", "height"], batch_size=500)
    return pending


def replace_crops(
    analysed: Sequence[AnalysedImage], *, detector_version: str, embedder_version: str, tag: str, also=None
) -> int:
    """Each image's crops replaced by the given ones, in one transaction (a redetect); ``also()`` runs in it.

    The new files have ``tag``ged names, written first; the old files go once the
    transaction has committed. Returns how many crops were written.
    """
    names = save_crop_files(analysed, tag=tag)
    now = timezone.now()
    image_ids = [a.image.pk for a in analysed]
    with transaction.atomic():
        enter_store(detector_version=detector_version, embedder_version=embedder_version)
        old = Crop.objects.filter(image_id__in=image_ids)
        old_files = set(old.exclude(file="").values_list("file", flat=True))
        old.delete()
        copy_crop_rows(crop_rows(analysed, names, detector_version, embedder_version, now))
        if also is not None:
            also()
        stale_files = sorted(old_files - {name for batch in names.values() for name in batch})
        transaction.on_commit(lambda: delete_files(default_storage, stale_files))
    return sum(len(a.crops) for a in analysed)


def enter_store(*, detector_version: str, embedder_version: str) -> None:
    """First in a store transaction: take the store lock, then refuse crops of models no longer served."""
    lock_for_store()
    require_served(embedder_version=embedder_version, detector_version=detector_version)


def crop_rows(analysed: Sequence[AnalysedImage], names: dict[int, list[str]], detector_version, embedder_version, now):
    """The COPY rows (indexing.vectors.COPY_COLUMNS) of the images' crops, active, stamped ``now``."""
    return (
        (a.image.pk, crop.label, crop.confidence, *crop.box, name, vector, detector_version, embedder_version)
        + (True, now)
        for a in analysed
        for crop, name, vector in zip(a.crops, names[a.image.pk], a.vectors, strict=True)
    )


def save_crop_files(analysed: Sequence[AnalysedImage], *, tag: str = "") -> dict[int, list[str]]:
    """Each image's crop files, written by a few threads: storage calls wait on disk or network."""
    jobs = [(a.image, i, crop.pixels, tag) for a in analysed for i, crop in enumerate(a.crops)]
    with ThreadPoolExecutor(max_workers=FILE_WRITERS) as pool:
        saved = list(pool.map(lambda job: save_crop_file(*job), jobs))
    names: dict[int, list[str]] = {a.image.pk: [] for a in analysed}
    for (image, _, _, _), name in zip(jobs, saved, strict=True):
        names[image.pk].append(name)
    return names


def save_crop_file(image: SourceImage, index: int, pixels: Image.Image, tag: str = "") -> str:
    name = crop_file_name(image, index, tag=tag)
    buffer = io.BytesIO()
    pixels.save(buffer, format="JPEG", quality=CROP_JPEG_QUALITY)
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(buffer.getvalue()))
