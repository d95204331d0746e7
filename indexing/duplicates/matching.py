"""Duplicate matching: fingerprint a photo, find the stored photos it duplicates, tier by tier.

Four tiers, strongest first (indexing.models.duplicates.Tier):
- exact: the same sha256, in any dataset;
- perceptual: pHash within DEDUP_PHASH_MAX_DISTANCE bits, in any of the 8 orientations and
  with uniform borders trimmed (indexing.duplicates.fingerprints); rows are found by their
  hash chunks under a GIN index, then compared with ``bit_count`` (indexing.duplicates.multi_index);
- verified: for a photo the first two tiers found nothing for, a region shared with one of
  a few shortlisted photos, by ORB keypoints and a RANSAC homography (indexing.duplicates.verification);
- semantic: cosine of the photos' vectors >= DEDUP_SEMANTIC_MIN_SCORE. A photo's vector is the
  mean of its crops' CLIP vectors: those are already computed and stored, so the tier costs no
  model pass, and it compares photos by the objects search sees. A photo with no crops has no
  vector, and only the first two tiers can match it.

Pairs a reviewer marked "not duplicates" are never returned. Groups are written by
indexing.duplicates.groups; this module only reads, apart from storing fingerprints.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db.models import Q
from pgvector.django import CosineDistance
from PIL import Image

from indexing.catalog.stored_files import decode_stored_image
from indexing.duplicates import features, fingerprints, multi_index, verification
from indexing.duplicates.fingerprints import Hashes
from indexing.models import Crop, Dataset, NotDuplicatePair, PhotoFingerprint, SourceImage, Tier
from indexing.vision.errors import ImageError
from indexing.vision.hashing import perceptual_score

logger = logging.getLogger(__name__)

# Most matches kept per tier for one photo: a group is reviewed by a person.
MAX_MATCHES_PER_TIER = 50
ALL_TIERS = (Tier.EXACT, Tier.PERCEPTUAL, Tier.VERIFIED, Tier.SEMANTIC)
# The tiers known before the models run (DEDUP_ON_INGEST=skip can only use these).
PRE_INDEX_TIERS = (Tier.EXACT, Tier.PERCEPTUAL)


@dataclass(frozen=True)
class Match:
    image_id: int
    tier: str
    score: float
    # Why (DuplicateMember.evidence), seen from the matching photo; ``flipped`` gives the matched one's view.
    evidence: dict | None = field(default=None, compare=False)

    def flipped(self) -> dict | None:
        if not self.evidence or "box" not in self.evidence:
            return self.evidence
        return {**self.evidence, "box": self.evidence["matched_box"], "matched_box": self.evidence["box"]}


# --- Fingerprints ----------------------------------------------------------------------


def store_fingerprint(image: SourceImage, pixels: Image.Image) -> PhotoFingerprint:
    """Hash the decoded photo and store (or refresh) its fingerprint."""
    return fingerprints.store(image, fingerprints.compute(pixels))


def store_photo_vector(image: SourceImage) -> np.ndarray | None:
    """The normalised mean of the photo's crop vectors, stored on its fingerprint; None without crops."""
    vectors = list(Crop.objects.filter(image=image).values_list("embedding", flat=True))
    if not vectors:
        return None
    mean = np.mean(np.asarray(vectors, dtype=np.float32), axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        return None
    vector = mean / norm
    PhotoFingerprint.objects.filter(image=image).update(vector=vector)
    return vector


def fingerprint_stored_image(image: SourceImage) -> PhotoFingerprint | None:
    """Fingerprint a photo from its stored file (photos indexed before duplicates were tracked).

    A file that cannot be decoded is logged and skipped (None): it is already a failed
    image, or will be when indexed.
    """
    try:
        pixels = decode_stored_image(image)
    except ImageError as exc:
        logger.warning("No fingerprint for image %s: %s", image.pk, exc)
        return None
    fingerprint = store_fingerprint(image, pixels)
    store_photo_vector(image)
    return fingerprint


# --- Matching --------------------------------------------------------------------------


def find_matches(
    image: SourceImage,
    tiers: Iterable[str] = ALL_TIERS,
    *,
    hashes: Hashes | None = None,
    pixels: Image.Image | None = None,
) -> list[Match]:
    """The stored photos ``image`` duplicates, each once, under its strongest tier.

    ``hashes``: the photo's fingerprint when none is stored yet (screening at ingest);
    ``pixels``: its decoded pixels if at hand (the verification tier decodes the file otherwise).
    """
    tiers = set(tiers)
    fingerprint = PhotoFingerprint.objects.filter(image=image).first()
    variants = hashes.variants if hashes else fingerprints.of_fingerprint(fingerprint) if fingerprint else ()
    found: list[Match] = []
    if Tier.EXACT in tiers:
        found += exact_matches(image)
    if Tier.PERCEPTUAL in tiers and variants:
        found += perceptual_matches(image.pk, variants, settings.DEDUP_PHASH_MAX_DISTANCE)
    refused = not_duplicate_partners(image.pk)
    descriptor = hashes.descriptor if hashes else fingerprint.descriptor if fingerprint else None
    # Verification is the costly tier: only for what the hash tiers left unexplained.
    if Tier.VERIFIED in tiers and descriptor is not None and not {m.image_id for m in found} - refused:
        found += verified_matches(image, descriptor, refused, pixels)
    if Tier.SEMANTIC in tiers and fingerprint is not None and fingerprint.vector is not None:
        found += semantic_matches(image.pk, fingerprint.vector, settings.DEDUP_SEMANTIC_MIN_SCORE)
    best: dict[int, Match] = {}
    for match in found:  # tiers were added strongest first
        if match.image_id not in refused and match.image_id not in best:
            best[match.image_id] = match
    return sorted(best.values(), key=lambda m: (ALL_TIERS.index(m.tier), -m.score, m.image_id))


def exact_matches(image: SourceImage) -> list[Match]:
    ids = SourceImage.objects.filter(sha256=image.sha256).exclude(pk=image.pk).order_by("id")
    return [Match(pk, Tier.EXACT, 1.0) for pk in ids.values_list("pk", flat=True)[:MAX_MATCHES_PER_TIER]]


def perceptual_matches(image_id: int, variants: Iterable[int], max_distance: int) -> list[Match]:
    """Photos one of whose stored hashes is within ``max_distance`` bits of one of ``variants``."""
    radius = settings.DEDUP_PHASH_PROBE_RADIUS
    rows = multi_index.nearest(image_id, variants, max_distance, radius, MAX_MATCHES_PER_TIER)
    return [Match(pk, Tier.PERCEPTUAL, perceptual_score(d), {"distance": d}) for pk, d in rows]


def verified_matches(image: SourceImage, descriptor, refused: set[int], pixels: Image.Image | None) -> list[Match]:
    """Shortlisted photos sharing a region with ``image`` (ORB + RANSAC), with the region in both."""
    found = verification.verified(image, descriptor, refused, pixels)
    return [
        Match(
            pk,
            Tier.VERIFIED,
            features.inlier_score(v.inliers),
            {"inliers": v.inliers, "box": v.box, "matched_box": v.matched_box},
        )
        for pk, v in found
    ]


def semantic_matches(image_id: int, vector, min_score: float) -> list[Match]:
    """Photos whose vector's cosine with ``vector`` is at least ``min_score`` (pgvector)."""
    rows = (
        PhotoFingerprint.objects.filter(vector__isnull=False)
        .exclude(image_id=image_id)
        .annotate(distance=CosineDistance("vector", vector))
        .filter(distance__lte=1.0 - min_score)
        .order_by("distance", "image_id")
        .values_list("image_id", "distance")[:MAX_MATCHES_PER_TIER]
    )
    return [Match(pk, Tier.SEMANTIC, round(1.0 - float(distance), 4)) for pk, distance in rows]


def not_duplicate_partners(image_id: int) -> set[int]:
    """Photos a reviewer said ``image_id`` does not duplicate."""
    pairs = NotDuplicatePair.objects.filter(Q(first_id=image_id) | Q(second_id=image_id))
    return {b if a == image_id else a for a, b in pairs.values_list("first_id", "second_id")}


def same_object_elsewhere(
    crop: Crop, candidates: dict[int, float], min_score: float | None = None, limit: int = 24
) -> list[tuple[Crop, float]]:
    """Of ``candidates`` ({crop id: cosine with ``crop``}), the active crops of other photos at DEDUP_OBJECT_MIN_SCORE.

    The candidates come from the served index (search.query.same_object): no scan of every
    crop vector here, the rows read are those ids alone, best first.
    """
    min_score = settings.DEDUP_OBJECT_MIN_SCORE if min_score is None else min_score
    wanted = [pk for pk, score in candidates.items() if score >= min_score]
    rows = (
        Crop.objects.filter(pk__in=wanted, is_active=True, image__dataset__status=Dataset.Status.ACTIVE)
        .exclude(image_id=crop.image_id)
        .select_related("image__dataset")
    )
    found = sorted(((row, round(candidates[row.pk], 4)) for row in rows), key=lambda item: (-item[1], item[0].pk))
    return found[:limit]
