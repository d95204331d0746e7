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

from indexing.duplicates import fingerprints
from indexing.duplicates import groups as duplicate_groups
from indexing.duplicates import matching as duplicates
from indexing.models import IndexingJob, SourceImage, Tier
from indexing.vision.hashing import hamming, perceptual_score

logger = logging.getLogger(__name__)

POLICIES = ("keep", "link", "skip")


def policy() -> str:
    value = settings.DEDUP_ON_INGEST
    if value not in POLICIES:
        raise ValueError(f"DEDUP_ON_INGEST is {value!r}; use one of {', '.join(POLICIES)}.")
    return value


def screen(decoded: Sequence[tuple[SourceImage, Image.Image]]) -> tuple[list[tuple[SourceImage, Image.Image]], int]:
    """Hash each decoded photo; with ``skip``, take duplicates out. Returns (to index, skipped).

    Nothing is written for a photo that goes on to be indexed: its fingerprint is stored by
    after_indexed, once its crops are. Writing it here (a row referencing the image) would
    touch every image of the batch before the first is stored, and wait on any of them
    that another transaction holds.
    """
    mode = policy()  # a bad value stops the batch: a setup error, not the photos'
    keep: list[tuple[SourceImage, Image.Image]] = []
    kept_hashes: list[tuple[int, tuple[int, ...]]] = []  # (image id, stored hashes) of this batch's photos to index
    skipped = 0
    for image, pixels in decoded:  # in id order: the first copy of a batch is indexed, later ones skipped
        try:
            image.dedup_hashes = fingerprints.compute(pixels)
            if mode == "skip" and _skip(image, kept_hashes):
                skipped += 1
                continue
            kept_hashes.append((image.pk, image.dedup_hashes.stored))
        except Exception:
            logger.exception("Duplicate screening failed for image %s; indexing it anyway", image.pk)
        keep.append((image, pixels))
    return keep, skipped


def _skip(image: SourceImage, batch: list[tuple[int, tuple[int, ...]]]) -> bool:
    """Skip ``image`` if it duplicates a stored photo or an earlier one of its batch (exact or perceptual)."""
    limit = settings.DEDUP_PHASH_MAX_DISTANCE
    hashes = image.dedup_hashes
    matches = duplicates.find_matches(image, duplicates.PRE_INDEX_TIERS, hashes=hashes)
    refused = duplicates.not_duplicate_partners(image.pk)
    in_batch = [
        duplicates.Match(pk, Tier.PERCEPTUAL, perceptual_score(distance), {"distance": distance})
        for pk, stored in batch
        if (distance := min(hamming(a, b) for a in stored for b in hashes.variants)) <= limit and pk not in refused
    ]
    matches = matches + sorted(in_batch, key=lambda m: -m.score)
    if not matches:
        return False
    done = SourceImage.objects.filter(pk=image.pk, status=SourceImage.Status.PENDING).update(
        status=SourceImage.Status.DONE, error="", processed=timezone.now()
    )
    if not done:  # another worker finished it first
        return False
    fingerprints.store(image, hashes, skipped=True)
    duplicate_groups.link_image(image, matches)
    return True


def after_indexed(image: SourceImage, pixels: Image.Image) -> None:
    """Once a photo's crops are stored: its fingerprint and semantic vector, then (``link``, ``skip``) its group."""
    try:
        hashes = getattr(image, "dedup_hashes", None) or fingerprints.compute(pixels)
        fingerprints.store(image, hashes)
        duplicates.store_photo_vector(image)
        if policy() != "keep":
            duplicate_groups.link_image(image, duplicates.find_matches(image, pixels=pixels))
    except Exception:
        logger.exception("Duplicate matching failed for image %s; it is indexed", image.pk)


def job_counts(job: IndexingJob) -> dict[str, int]:
    """How many of a job's photos were skipped as duplicates, and how many are in a group."""
    counts = SourceImage.objects.filter(job=job).aggregate(
        skipped=Count("fingerprint", filter=Q(fingerprint__skipped=True)),
        linked=Count("duplicate_member"),
    )
    return {"duplicates_skipped": counts["skipped"], "duplicates_linked": counts["linked"]}
