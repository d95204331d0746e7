"""Duplicate photos: each photo's fingerprint, groups of duplicates, and remembered "not duplicates".

Re-exported by indexing.models (the indexing app's models, like every family there).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from pgvector.django import HnswIndex, VectorField


class Tier(models.TextChoices):
    """How two photos matched, strongest first."""

    EXACT = "exact"  # the same bytes (sha256), in any dataset
    PERCEPTUAL = "perceptual"  # pHash within DEDUP_PHASH_MAX_DISTANCE bits
    SEMANTIC = "semantic"  # CLIP cosine of the photos' vectors over DEDUP_SEMANTIC_MIN_SCORE


TIER_RANK = {Tier.EXACT: 0, Tier.PERCEPTUAL: 1, Tier.SEMANTIC: 2}


class PhotoFingerprint(models.Model):
    """What duplicate matching knows of one photo: its pHash and, once indexed, its CLIP vector."""

    image = models.OneToOneField("indexing.SourceImage", on_delete=models.CASCADE, related_name="fingerprint")
    # The 64-bit pHash, signed (indexing.vision.hashing); compared with bit_count(a # b).
    phash = models.BigIntegerField(db_index=True)
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
