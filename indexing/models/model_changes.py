"""Model changes: the collection moved to another CLIP (re-embed) or another detector (redetect).

Re-exported by indexing.models (the indexing app's models, like every family there).
A change runs in the background (indexing.model_changes.reembed, indexing.model_changes.redetect), resumes after
a crash, and shows its progress on the datasets page. The newest finished re-embed
names the embedder every query and every new crop uses (indexing.served_models).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from pgvector.django import VectorField


class ModelChange(models.Model):
    class Kind(models.TextChoices):
        EMBEDDER = "embedder"  # re-embed every crop with another CLIP, then switch search over at once
        DETECTOR = "detector"  # detect every photo again; each photo's crops replaced in one transaction

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        # No sign of life for INDEXING_JOB_STALE_SECONDS: its worker or command died; resume it.
        STALE = "stale"

    kind = models.CharField(max_length=10, choices=Kind.choices, db_index=True)
    source = models.CharField(max_length=500, help_text="CLIP model id or folder; detector weights (file, runs:/).")
    version = models.CharField(max_length=200, help_text="What the model stamps on the crops it makes.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    total = models.PositiveIntegerField(default=0, help_text="Crops to re-embed, or photos to detect again.")
    processed = models.PositiveIntegerField(default=0)
    # Redetect: photos up to this id were there when it started (newer ones use the new detector already).
    last_image_id = models.BigIntegerField(default=0)
    # Redetect: the photo it finished last, committed with that photo's crops: it resumes after it.
    cursor = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True, db_index=True)
    heartbeat = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} change to {self.version or self.source} ({self.status})"

    @property
    def progress(self) -> float:
        return min(self.processed / self.total, 1.0) if self.total else 0.0


class StagedEmbedding(models.Model):
    """A crop's vector from the CLIP a re-embed moves to, kept aside until the switch.

    Search keeps comparing the crops' own vectors (the old model's) until every crop
    has one of these; the switch then copies them over in one transaction.
    """

    crop = models.ForeignKey("indexing.Crop", on_delete=models.CASCADE, related_name="staged_embeddings")
    version = models.CharField(max_length=200)
    embedding = VectorField(dimensions=settings.EMBEDDING_DIM)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "crop"], name="staged_embedding_unique")]

    def __str__(self) -> str:
        return f"crop {self.crop_id} by {self.version}"
