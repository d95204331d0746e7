"""Duplicate photos: each photo's fingerprint, groups of duplicates, and remembered "not duplicates".

Re-exported by indexing.models (the indexing app's models, like every family there).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, Q
from pgvector.django import HnswIndex, VectorField


class Tier(models.TextChoices):
    """How two photos matched, strongest first."""

    EXACT = "exact"  # the same bytes (sha256), in any dataset
    PERCEPTUAL = "perceptual"  # pHash within DEDUP_PHASH_MAX_DISTANCE bits, any orientation, borders trimmed
    VERIFIED = "verified"  # a region shared by ORB keypoints + RANSAC homography (crops, overlaps)
    SEMANTIC = "semantic"  # CLIP cosine of the photos' vectors over DEDUP_SEMANTIC_MIN_SCORE


TIER_RANK = {Tier.EXACT: 0, Tier.PERCEPTUAL: 1, Tier.VERIFIED: 2, Tier.SEMANTIC: 3}


class PhotoFingerprint(models.Model):
    """What duplicate matching knows of one photo (indexing.duplicates.fingerprints): hashes, descriptor, vector."""

    image = models.OneToOneField("indexing.SourceImage", on_delete=models.CASCADE, related_name="fingerprint")
    # The 64-bit pHash, signed (indexing.vision.hashing); compared with bit_count(a # b).
    phash = models.BigIntegerField(db_index=True)
    # The pHash of the frame inside uniform borders (= phash without borders); null in version 1.
    trimmed_phash = models.BigIntegerField(null=True, blank=True)
    # The box kept inside the borders [left, top, right, bottom] in pixels; null: no border.
    border = models.JSONField(null=True, blank=True)
    # Both hashes in the 8 orientations: what this photo is matched with.
    variant_hashes = ArrayField(models.BigIntegerField(), default=list, blank=True)
    # Position-tagged 16-bit chunks of phash and trimmed_phash (indexing.duplicates.multi_index).
    hash_keys = ArrayField(models.IntegerField(), default=list, blank=True)
    # The 64-d colour descriptor the verification tier shortlists by (indexing.duplicates.features).
    descriptor = VectorField(dimensions=64, null=True, blank=True)
    # indexing.duplicates.fingerprints.FINGERPRINT_VERSION it was made with; older ones are recomputed.
    version = models.PositiveSmallIntegerField(default=1)
    # The mean of the photo's crops' CLIP vectors, normalised; null until it has crops.
    vector = VectorField(dimensions=settings.EMBEDDING_DIM, null=True, blank=True)
    # DEDUP_ON_INGEST=skip: a near-duplicate of a stored photo, left unindexed (no crops).
    skipped = models.BooleanField(default=False, db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            HnswIndex(
                name="fingerprint_vector_hnsw",
                fields=["vector"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            # fastupdate off: a pending list (the default) is read in full by every lookup until vacuum merges it.
            GinIndex(name="fingerprint_hash_keys_gin", fields=["hash_keys"], fastupdate=False),
            HnswIndex(
                name="fingerprint_descriptor_hnsw",
                fields=["descriptor"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"fingerprint of {self.image_id}"


class DuplicateGroup(models.Model):
    """Photos found to be the same picture; open until a reviewer resolves it."""

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    # The photo a reviewer kept; the others' crops were deactivated.
    kept = models.ForeignKey("indexing.SourceImage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated", "-id"]

    def __str__(self) -> str:
        return f"duplicate group {self.pk}"


class DuplicateMember(models.Model):
    """A photo in a group (at most one group per photo), with the match that brought it in."""

    group = models.ForeignKey(DuplicateGroup, on_delete=models.CASCADE, related_name="members")
    image = models.OneToOneField("indexing.SourceImage", on_delete=models.CASCADE, related_name="duplicate_member")
    # The photo it matched, the tier and how closely (1.0 exact; 1 - bits/64; cosine).
    matched = models.ForeignKey(
        "indexing.SourceImage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tier = models.CharField(max_length=12, choices=Tier.choices)
    score = models.FloatField()
    # Why it matched, beyond tier and score: {"distance", "orientation"} for perceptual; for verified,
    # {"inliers", "box", "matched_box"}: the shared region in this photo and in ``matched`` (shares of w, h).
    evidence = models.JSONField(null=True, blank=True)
    added = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group", "id"]

    def __str__(self) -> str:
        return f"{self.image_id} in group {self.group_id} ({self.tier} {self.score:.3f})"


class NotDuplicatePair(models.Model):
    """Two photos a reviewer said are not duplicates: matching never pairs them again."""

    first = models.ForeignKey("indexing.SourceImage", on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey("indexing.SourceImage", on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="not_duplicate_pair_unique"),
            # Stored once, smaller id first.
            models.CheckConstraint(condition=Q(first__lt=F("second")), name="not_duplicate_pair_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.first_id} != {self.second_id}"
