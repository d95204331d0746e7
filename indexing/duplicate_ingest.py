"""Duplicates as photos are indexed: the pipeline's two hooks, and what DEDUP_ON_INGEST asks for.

- ``keep``: index the photo as any other; it is not grouped now (a recompute may group it later);
- ``link`` (default): index it and put it in the group of the photos it duplicates;
- ``skip``: a photo that exactly or perceptually duplicates a stored one is not run through
  the models (marked done with no crops, its fingerprint ``skipped``) and joins their group,
  so a reviewer sees it. Semantic matches need crops, so they can only link, never skip.

A failure to hash or match is logged and leaves indexing alone: duplicates are a help,
never a reason to lose a photo.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from PIL import Image

from indexing import duplicate_groups, duplicates
from indexing.models import IndexingJob, PhotoFingerprint, SourceImage

logger = logging.getLogger(__name__)

POLICIES = ("keep", "link", "skip")


def policy() -> str:
    value = settings.DEDUP_ON_INGEST
    if value not in POLICIES:
        raise ValueError(f"DEDUP_ON_INGEST is {value!r}; use one of {', '.join(POLICIES)}.")
    return value


def screen(decoded: Sequence[tuple[SourceImage, Image.Image]]) -> tuple[list[tuple[SourceImage, Image.Image]], int]:
    """Fingerprint each decoded photo; with ``skip``, take duplicates out. Returns (to index, skipped)."""
    mode = policy()  # a bad value stops the batch: a setup error, not the photos'
    keep: list[tuple[SourceImage, Image.Image]] = []
    skipped = 0
    for image, pixels in decoded:  # in id order: the first copy of a batch is indexed, later ones skipped
        try:
            duplicates.store_fingerprint(image, pixels)
            if mode == "skip" and _skip(image):
                skipped += 1
                continue
        except Exception:
            logger.exception("Duplicate screening failed for image %s; indexing it anyway", image.pk)
        keep.append((image, pixels))
    return keep, skipped


def _skip(image: SourceImage) -> bool:
    matches = duplicates.find_matches(image, duplicates.PRE_INDEX_TIERS)
    if not matches:
        return False
    done = SourceImage.objects.filter(pk=image.pk, status=SourceImage.Status.PENDING).update(
        status=SourceImage.Status.DONE, error="", processed=timezone.now()
    )
    if not done:  # another worker finished it first
        return False
    PhotoFingerprint.objects.filter(image=image).update(skipped=True)
    duplicate_groups.link_image(image, matches)
    return True


def after_indexed(image: SourceImage) -> None:
    """Once a photo's crops are stored: its semantic vector, then (``link``, ``skip``) its group."""
    try:
        duplicates.store_photo_vector(image)
        if policy() != "keep":
            duplicate_groups.link_image(image, duplicates.find_matches(image))
    except Exception:
        logger.exception("Duplicate matching failed for image %s; it is indexed", image.pk)


def job_counts(job: IndexingJob) -> dict[str, int]:
    """How many of a job's photos were skipped as duplicates, and how many are in a group."""
    counts = SourceImage.objects.filter(job=job).aggregate(
        skipped=Count("fingerprint", filter=Q(fingerprint__skipped=True)),
        linked=Count("duplicate_member"),
    )
    return {"duplicates_skipped": counts["skipped"], "duplicates_linked": counts["linked"]}
