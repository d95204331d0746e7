"""Work records: indexing jobs and the queued tasks that coalesce repeated requests."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from indexing.models.catalog import Dataset


class IndexingJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        # No sign of life for INDEXING_JOB_STALE_SECONDS: its worker or command died (indexing.pipeline.recovery).
        STALE = "stale"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="jobs")
    split = models.CharField(max_length=20, blank=True, help_text="Empty means all splits.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    total_images = models.PositiveIntegerField(default=0)
    processed_images = models.PositiveIntegerField(default=0)
    failed_images = models.PositiveIntegerField(default=0)
    total_crops = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Refreshed by every batch (indexing.pipeline.jobs.refresh_job_progress): a job silent for longer
    # than INDEXING_JOB_STALE_SECONDS is marked stale and can be resumed.
    heartbeat = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed_images__lte=F("total_images")),
                name="job_processed_le_total",
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} on {self.dataset}"

    @property
    def progress(self) -> float:
        return self.processed_images / self.total_images if self.total_images else 0.0


class QueuedTask(models.Model):
    """Work sent to the workers and not started yet: one per kind and target (indexing.pipeline.queued).

    A second request for the same work while one waits gets this one back instead of
    queueing a second full build or recompute. The task deletes the row when it starts.
    """

    kind = models.CharField(max_length=40)
    # The dataset it is for; 0 for work over the whole collection (an index rebuild).
    target = models.BigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "target"], name="queued_task_once_per_target")]

    def __str__(self) -> str:
        return f"{self.kind} {self.target} (queued {self.created:%Y-%m-%d %H:%M})"
