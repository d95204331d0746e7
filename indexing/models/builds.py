"""Index builds: one FAISS index file each, over the crops of one embedder version."""

from __future__ import annotations

from django.core.files.storage import Storage, storages
from django.db import models


def index_storage() -> Storage:
    """Where index files go: private, never public media (settings.STORAGES["indexes"])."""
    return storages["indexes"]


class IndexBuild(models.Model):
    class Status(models.TextChoices):
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"

    kind = models.CharField(max_length=50, help_text="FAISS index type, e.g. Flat, HNSW32, IVF1024,PQ64.")
    size = models.PositiveIntegerField(default=0, help_text="Number of vectors in the index.")
    file = models.FileField(upload_to="indexes/", storage=index_storage, max_length=500, blank=True)
    checksum = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING, db_index=True)
    # Crops with a larger id than this were added after the build.
    max_crop_id = models.BigIntegerField(default=0)
    params = models.JSONField(
        default=dict, blank=True, help_text="Search-time knobs chosen with the kind (efSearch, nprobe, k_factor)."
    )
    # An update is its parent's index plus the crops stored since (add_with_ids): no retraining.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="updates", editable=False
    )
    trained_size = models.PositiveIntegerField(
        default=0, help_text="Vectors in the index when it was last built from scratch (trained)."
    )
    embedder_version = models.CharField(max_length=200, blank=True)
    # Measured by the build on its own vectors (indexing.ann.recall.measure): held-out and near-copy queries.
    recall_at_10 = models.FloatField(null=True, blank=True, help_text="recall@10 on the build's own sample.")
    recall_queries = models.PositiveIntegerField(default=0, help_text="Queries in the build's recall sample.")
    latency_p50_ms = models.FloatField(null=True, blank=True)
    latency_p95_ms = models.FloatField(null=True, blank=True)
    # Index size at the last measurement: updates re-check every ANN_RECALL_RECHECK_EVERY vectors added.
    recall_measured_size = models.PositiveIntegerField(default=0)
    recall_report = models.JSONField(
        default=dict, blank=True, help_text="Kinds tried, knobs stepped, why a kind was passed over, time taken."
    )
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.size}) {self.status}"

    @property
    def recall_note(self) -> str:
        return str((self.recall_report or {}).get("note", ""))
