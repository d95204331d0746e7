"""An indexing job's progress as the datasets page and the jobs API show it: counts and time left."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from indexing.models import IndexingJob


def eta_seconds(job: IndexingJob, now: datetime | None = None) -> float | None:
    """Seconds left at the pace so far (failed photos count as processed); None until it can be told."""
    if job.status != IndexingJob.Status.RUNNING or not job.started or not job.total_images:
        return None
    if not job.processed_images:
        return None
    elapsed = ((now or timezone.now()) - job.started).total_seconds()
    remaining = job.total_images - job.processed_images
    return round(max(elapsed, 0.0) * remaining / job.processed_images, 1)


def eta_text(seconds: float | None) -> str:
    """``about 3 min left``; the page's script writes the same words as it polls."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"about {max(round(seconds), 1)} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def duration_seconds(job: IndexingJob, now: datetime | None = None) -> float | None:
    """How long it took (finished) or has run so far (started); None before it starts."""
    if not job.started:
        return None
    end = job.finished or (now or timezone.now())
    return max((end - job.started).total_seconds(), 0.0)


def duration_text(seconds: float | None) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 12 min``; the page's script writes the same words as it polls."""
    if seconds is None:
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"
