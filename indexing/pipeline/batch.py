"""Processing: detect, crop, embed and store the crops of pending images.

Every step is idempotent: an image is processed once (its crops are written in the
same transaction that marks it done), so a rerun or a redelivered batch after a
crash adds nothing twice. Jobs (indexing.pipeline.jobs) call process_images batch by batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils import timezone
from PIL import Image

from indexing import served_models
from indexing.catalog.stored_files import decode_stored_image
from indexing.duplicates import hooks as duplicate_ingest
from indexing.models import SourceImage
from indexing.pipeline.store import AnalysedImage, store_batch
from indexing.served_models import ModelChanged
from indexing.vision.crops import CropPolicy, PlannedCrop, plan_crops
from indexing.vision.detector import Detector
from indexing.vision.embedder import Embedder
from indexing.vision.errors import ImageError, ModelLoadError

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    done: int = 0
    failed: int = 0
    crops: int = 0
    skipped: int = 0
    duplicates_skipped: int = 0  # DEDUP_ON_INGEST=skip (indexing.duplicates.hooks)
    failures: dict[int, str] = field(default_factory=dict)


def process_images(image_ids: Sequence[int]) -> BatchResult:
    """Detect, crop and embed the given images; store their crops; mark them done.

    Images already done or failed are skipped, so a redelivered batch is harmless.
    An image that cannot be decoded, or that a model fails on, is marked failed with
    its reason; the rest of the batch goes on.
    """
    result = BatchResult()
    images = list(SourceImage.objects.filter(pk__in=image_ids, status=SourceImage.Status.PENDING).order_by("id"))
    result.skipped = len(set(image_ids)) - len(images)
    decoded: list[tuple[SourceImage, Image.Image]] = []
    for image in images:
        try:
            decoded.append((image, decode_stored_image(image)))
        except ImageError as exc:
            if mark_failed(image, str(exc)):
                result.failed += 1
                result.failures[image.pk] = str(exc)
    # --- duplicates: hash each photo; DEDUP_ON_INGEST=skip takes near-duplicates out ---
    decoded, result.duplicates_skipped = duplicate_ingest.screen(decoded)
    if not decoded:
        return result
    pixels_of = {image.pk: pixels for image, pixels in decoded}
    try:
        analysed, stored = analyse_and_store(decoded, result)
    except ModelChanged as exc:  # a re-embed switched models while this batch ran: make it again
        logger.info("Batch made again with the models now served: %s", exc)
        analysed, stored = analyse_and_store(decoded, result)
    result.done = len(stored)
    result.crops = sum(len(a.crops) for a in analysed if a.image.pk in stored)
    result.skipped += len(analysed) - len(stored)
    for a in analysed:
        if a.image.pk in stored:
            duplicate_ingest.after_indexed(a.image, pixels_of[a.image.pk])  # --- duplicates: fingerprint, group ---
    return result


def analyse_and_store(
    decoded: Sequence[tuple[SourceImage, Image.Image]], result: BatchResult
) -> tuple[list[AnalysedImage], set[int]]:
    """Run the served models over the decoded images and store the crops; images the models fail on are marked."""
    detector, embedder, policy = served_models.detector(), served_models.embedder(), CropPolicy.from_settings()
    outcomes = analyse_batch([pixels for _, pixels in decoded], detector, embedder, policy)
    analysed = []
    for (image, pixels), outcome in zip(decoded, outcomes, strict=True):
        if isinstance(outcome, str):
            if mark_failed(image, outcome):
                result.failed += 1
                result.failures[image.pk] = outcome
            continue
        analysed.append(AnalysedImage(image, pixels.size, *outcome))
    stored = store_batch(analysed, detector_version=detector.version, embedder_version=embedder.version)
    return analysed, stored


# An image's crops and their vectors, or why the models failed on it.
Analysis = tuple[list[PlannedCrop], Sequence] | str


def analyse_batch(
    images: Sequence[Image.Image], detector: Detector, embedder: Embedder, policy: CropPolicy
) -> list[Analysis]:
    """Crops and vectors for each image, the batch at once; if a model raises, one image at a time.

    Then the error is recorded against the image it happens on, and its batch-mates are
    indexed: one odd photo never fails a batch. A model that cannot load fails them all.
    """
    try:
        return analyse(images, detector, embedder, policy)
    except ModelLoadError:
        raise
    except Exception:  # any model error: find the image it belongs to
        logger.warning("The models failed on a batch of %d images; retrying one by one", len(images), exc_info=True)
    outcomes: list[Analysis] = []
    for image in images:
        try:
            outcomes += analyse([image], detector, embedder, policy)
        except ModelLoadError:
            raise
        except Exception as exc:  # this image's failure, recorded as its reason
            logger.exception("The models failed on one image")
            outcomes.append(f"The detector or embedder failed on this image: {type(exc).__name__}: {exc}")
    return outcomes


def analyse(
    images: Sequence[Image.Image], detector: Detector, embedder: Embedder, policy: CropPolicy
) -> list[Analysis]:
    """Detect, crop and embed the batch in one go; each image's crops with their vectors."""
    detections = detector.detect(images)
    planned = [plan_crops(pixels, found, policy) for pixels, found in zip(images, detections, strict=True)]
    all_crops = [crop for crops in planned for crop in crops]
    vectors = embedder.embed_images([crop.pixels for crop in all_crops]) if all_crops else []
    outcomes: list[Analysis] = []
    offset = 0
    for crops in planned:
        outcomes.append((crops, vectors[offset : offset + len(crops)]))
        offset += len(crops)
    return outcomes


def mark_failed(image: SourceImage, error: str) -> bool:
    """Mark a pending image failed; False if another worker already finished it."""
    changed = SourceImage.objects.filter(pk=image.pk, status=SourceImage.Status.PENDING).update(
        status=SourceImage.Status.FAILED, error=error[:2000], processed=timezone.now()
    )
    return changed == 1
