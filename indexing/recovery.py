"""Retry and recovery: failed photos indexed again, jobs whose worker or command died resumed.

A job's ``heartbeat`` is refreshed by every batch (indexing.jobs.refresh_job_progress).
One queued or running for longer than INDEXING_JOB_STALE_SECONDS without one is marked
``stale`` (on read: the datasets page, the job API; or by ``manage.py recover_jobs``),
and resuming it sends its still-pending photos to the workers again: the pipeline
skips photos already done, so nothing is indexed twice.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from indexing import jobs
from indexing.models import Dataset, IndexingJob, SourceImage

RESUMABLE = (IndexingJob.Status.STALE, IndexingJob.Status.FAILED)


class NotResumable(ValueError):
    """A job that is not stale or failed: it is alive, or done."""


# --- Failed photos ---------------------------------------------------------------------


def reset_failed(*, dataset: Dataset, split: str | None = None) -> int:
    """Failed photos of a dataset back to pending, their error cleared; how many."""
    if dataset.status == Dataset.Status.DELETING:
        return 0
    failed = dataset.images.filter(status=SourceImage.Status.FAILED)
    if split:
        failed = failed.filter(split=split)
    return failed.update(status=SourceImage.Status.PENDING, error="", processed=None)


def retry_failed(*, dataset: Dataset, split: str | None = None) -> IndexingJob | None:
    """Queue a job over a dataset's failed photos (admin, API, datasets page); None when none failed."""
    jobs.require_workers()  # refuse before anything changes
    with transaction.atomic():
        if not reset_failed(dataset=dataset, split=split):
            return None
        return jobs.enqueue_dataset_indexing(dataset, split)


def retry_failed_here(*, dataset: Dataset, split: str | None = None, progress=None) -> IndexingJob | None:
    """retry_failed in this process (the ``retry_failed`` command), then the index update."""
    if not reset_failed(dataset=dataset, split=split):
        return None
    job, ids = jobs.create_job(dataset, split)
    job = jobs.run_job(job, ids, progress=progress)
    jobs.after_job(job)
    return job


# --- Stale jobs ------------------------------------------------------------------------


def mark_stale_jobs() -> int:
    """Queued or running jobs silent for INDEXING_JOB_STALE_SECONDS become stale; how many."""
    return mark_silent_stale(
        IndexingJob, "No batch finished for {seconds} s: its worker or command stopped. Resume it to index the rest."
    )


def mark_silent_stale(model, error: str) -> int:
    """Rows of ``model`` (a job or a model change) queued or running with no heartbeat for
    INDEXING_JOB_STALE_SECONDS become stale, with ``error`` (``{seconds}`` filled in); how many.
    """
    seconds = settings.INDEXING_JOB_STALE_SECONDS
    return model.objects.filter(
        status__in=[model.Status.QUEUED, model.Status.RUNNING],
        heartbeat__lt=timezone.now() - timedelta(seconds=seconds),
    ).update(
        status=model.Status.STALE,
        error=error.format(seconds=seconds),
    )


def resume_job(*, job: IndexingJob, here: bool = False) -> IndexingJob:
    """Index a stale (or failed) job's pending photos again: on the workers, or in this process.

    Raises NotResumable for a job that is alive or finished.
    """
    if not here:
        jobs.require_workers()
    reopened = IndexingJob.objects.filter(pk=job.pk, status__in=RESUMABLE).update(
        status=IndexingJob.Status.QUEUED, error="", finished=None, heartbeat=timezone.now()
    )
    if not reopened:
        job.refresh_from_db()
        raise NotResumable(f"Job {job.pk} is {job.status}: only a stale or failed job can be resumed.")
    job.refresh_from_db()
    if here:
        job = jobs.run_job(job, jobs.job_image_ids(job))
        jobs.after_job(job)
        return job
    from indexing import tasks

    transaction.on_commit(partial(tasks.index_job_task.delay, job.pk, True))
    return job


def resume_stale_jobs(*, here: bool = False) -> list[IndexingJob]:
    """Mark stale jobs, then resume every stale one (``manage.py recover_jobs --resume``)."""
    mark_stale_jobs()
    return [resume_job(job=job, here=here) for job in IndexingJob.objects.filter(status=IndexingJob.Status.STALE)]
