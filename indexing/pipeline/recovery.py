"""Retry and recovery: failed photos indexed again, jobs whose worker or command died resumed.

A job's ``heartbeat`` is refreshed by every batch (indexing.pipeline.jobs.refresh_job_progress).
One queued or running for longer than INDEXING_JOB_STALE_SECONDS without one is marked
``stale`` by ``manage.py recover_jobs``, by a resume, and by reads (the datasets page, the
job API, the admin's list) at most once every STALE_CHECK_SECONDS (mark_stale_jobs_if_due),
and resuming it sends its still-pending photos to the workers again: the pipeline
skips photos already done, so nothing is indexed twice.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from indexing import queue
from indexing.catalog.guards import refuse_if_deleting
from indexing.models import Dataset, IndexingJob, SourceImage
from indexing.pipeline import jobs

RESUMABLE = (IndexingJob.Status.STALE, IndexingJob.Status.FAILED)
# Reads mark stale jobs at most this often (mark_stale_jobs_if_due); the cache key that says one did.
STALE_CHECK_SECONDS = 30
STALE_CHECK_KEY = "indexing:stale-jobs-checked"


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
    """Queue a job over a dataset's failed photos (admin, API, datasets page); None when none failed.

    DatasetDeleting for a dataset being deleted (its photos failed with the deletion's reason).
    """
    queue.require_workers()  # refuse before anything changes
    with transaction.atomic():
        refuse_if_deleting(dataset.pk)
        if not reset_failed(dataset=dataset, split=split):
            return None
        return jobs.enqueue_dataset_indexing(dataset, split)


def retry_failed_here(*, dataset: Dataset, split: str | None = None, progress=None) -> IndexingJob | None:
    """retry_failed in this process (the ``retry_failed`` command), then the index update."""
    refuse_if_deleting(dataset.pk)
    if not reset_failed(dataset=dataset, split=split):
        return None
    job, ids = jobs.create_job(dataset, split)
    job = jobs.run_job(job, ids, progress=progress)
    jobs.after_job(job)
    return job


# --- Stale jobs ------------------------------------------------------------------------


def mark_stale_jobs_if_due() -> int:
    """mark_stale_jobs for a read (the job API, the datasets page, the admin's list): at most once
    per STALE_CHECK_SECONDS per cache, so page views do not each write; how many were marked.

    A dead worker's job then reads "stale" at most STALE_CHECK_SECONDS late, and a resume
    marks first (resume_job), so it never waits on this.
    """
    if not cache.add(STALE_CHECK_KEY, 1, timeout=STALE_CHECK_SECONDS):
        return 0
    return mark_stale_jobs()


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

    Raises NotResumable for a job that is alive or finished, DatasetDeleting for one whose
    dataset is being deleted. Two resumes at once reopen it once: the conditional UPDATE lets
    one through, the other finds it queued (NotResumable). A job marked stale again before its
    worker took it, and resumed again, is still sent once (jobs.dispatch_job claims it).
    """
    if not here:
        queue.require_workers()
    refuse_if_deleting(job.dataset_id)
    mark_stale_jobs()  # a silent job is resumable now, whatever a page last read
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
    queue.send_on_commit(queue.INDEX_JOB, job.pk, True)
    return job


def resume_stale_jobs(*, here: bool = False) -> list[IndexingJob]:
    """Mark stale jobs, then resume every stale one (``manage.py recover_jobs --resume``)."""
    mark_stale_jobs()
    return [resume_job(job=job, here=here) for job in IndexingJob.objects.filter(status=IndexingJob.Status.STALE)]
