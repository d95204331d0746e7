"""Indexing jobs: one runner for the command line and the Celery workers.

A job covers a dataset's pending images and lives the same way on both paths:
create_job, start_job, run_batch for each batch (process it, recount the job's
progress; a batch that raises fails the job), finish, then after_job (the served
FAISS index updated with the job's crops). embed_and_index runs the batches in its own
process (run_job); enqueue_dataset_indexing hands them to Celery workers, whose
tasks (indexing.tasks) are one call each into this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from indexing import queue
from indexing.ann import builds
from indexing.catalog.guards import refuse_if_deleting
from indexing.catalog.ingest import pending_image_ids
from indexing.descriptions import hooks as description_hooks
from indexing.models import Crop, Dataset, IndexBuild, IndexingJob, QueuedTask, SourceImage
from indexing.pipeline import queued
from indexing.pipeline.batch import BatchResult, process_images

logger = logging.getLogger(__name__)

# --- A job's life, on both paths ------------------------------------------------------


def create_job(dataset: Dataset, split: str | None = None) -> tuple[IndexingJob, list[int]]:
    """A job over the dataset's pending images (of one split, or all); DatasetDeleting for one being deleted."""
    with transaction.atomic():
        refuse_if_deleting(dataset.pk)
        ids = pending_image_ids(dataset, split)
        job = IndexingJob.objects.create(dataset=dataset, split=split or "", total_images=len(ids))
        SourceImage.objects.filter(pk__in=ids).update(job=job)
    return job, ids


def join_waiting_job(dataset: Dataset, split: str | None = None) -> IndexingJob | None:
    """The dataset's job still waiting for a worker (queued), given the photos pending since; None without one.

    Its row is locked until the caller commits, and dispatch_job claims a job before reading
    its photos: the photos added here are sent with it.
    """
    waiting = (
        IndexingJob.objects.select_for_update()
        .filter(dataset=dataset, split=split or "", status=IndexingJob.Status.QUEUED)
        .order_by("id")
        .first()
    )
    if waiting is None:
        return None
    SourceImage.objects.filter(pk__in=pending_image_ids(dataset, split)).update(job=waiting)
    IndexingJob.objects.filter(pk=waiting.pk).update(total_images=waiting.images.count())
    waiting.refresh_from_db()
    return waiting


def job_image_ids(job: IndexingJob) -> list[int]:
    return list(job.images.filter(status=SourceImage.Status.PENDING).order_by("id").values_list("id", flat=True))


def iter_batches(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def start_job(job: IndexingJob) -> None:
    IndexingJob.objects.filter(pk=job.pk, started__isnull=True).update(started=timezone.now())
    IndexingJob.objects.filter(pk=job.pk, status=IndexingJob.Status.QUEUED).update(
        status=IndexingJob.Status.RUNNING, heartbeat=timezone.now()
    )


def run_batch(*, job_id: int, image_ids: Sequence[int]) -> tuple[BatchResult, bool]:
    """Process one batch of a job and recount its progress: (result, True if it finished the job).

    A batch that raises fails its job, unless the error is transient: then the job
    stays running and the batch is tried again (Celery retries it; the command stops).
    """
    try:
        result = process_images(image_ids)
    except queue.TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        fail_job(job_id, f"batch of {len(image_ids)} images failed: {type(exc).__name__}: {exc}")
        raise
    description_hooks.after_batch(image_ids, result.crops)  # DESCRIPTIONS_ENABLED: a task of its own
    return result, refresh_job_progress(job_id)


def refresh_job_progress(job_id: int) -> bool:
    """Recount a job's progress from its images; True when this call finished the job.

    Counting from the rows (not adding up batch results) keeps the numbers right when
    a batch is redelivered after a crash: images it already finished count once.
    """
    images = SourceImage.objects.filter(job_id=job_id)
    counts = images.aggregate(
        processed=Count("id", filter=~Q(status=SourceImage.Status.PENDING)),
        failed=Count("id", filter=Q(status=SourceImage.Status.FAILED)),
    )
    crops = Crop.objects.filter(image__job_id=job_id).count()
    IndexingJob.objects.filter(pk=job_id).update(
        processed_images=Greatest(F("processed_images"), counts["processed"]),
        failed_images=Greatest(F("failed_images"), counts["failed"]),
        total_crops=Greatest(F("total_crops"), crops),
        heartbeat=timezone.now(),  # a sign of life: jobs silent too long are stale (indexing.pipeline.recovery)
    )
    # A batch finished after all (a late redelivery): the job marked stale was alive.
    IndexingJob.objects.filter(pk=job_id, status=IndexingJob.Status.STALE).update(status=IndexingJob.Status.RUNNING)
    finished = IndexingJob.objects.filter(
        pk=job_id, status=IndexingJob.Status.RUNNING, processed_images__gte=F("total_images")
    ).update(status=IndexingJob.Status.DONE, finished=timezone.now())
    return finished == 1


def finish_job(job: IndexingJob) -> IndexingJob:
    """Close a job whose images were all handled (also when none were pending)."""
    refresh_job_progress(job.pk)
    IndexingJob.objects.filter(pk=job.pk, status__in=[IndexingJob.Status.QUEUED, IndexingJob.Status.RUNNING]).update(
        status=IndexingJob.Status.DONE, finished=timezone.now()
    )
    job.refresh_from_db()
    return job


def fail_job(job_id: int, error: str) -> None:
    IndexingJob.objects.filter(pk=job_id).update(
        status=IndexingJob.Status.FAILED, error=error[:4000], finished=timezone.now()
    )


def after_job(
    job: IndexingJob | None, *, index_kind: str | None = None, use_gpu: bool | None = None, queue_build: bool = False
) -> IndexBuild | None:
    """What follows a finished job, on both paths: builds.update_index, unless the served index holds every crop.

    The command updates here and returns the new build. A worker queues the update as a
    task of its own instead (queue_build), so an update that fails is retried without the batch.
    ``job`` is None after a run with nothing new: an earlier run may have stopped before its build.
    """
    if builds.index_is_current():
        logger.info("Job %s: the served FAISS index holds every active crop; no update", job.pk if job else "-")
        return None
    if queue_build:
        queue_index_update()
        return None
    return builds.update_index(kind=index_kind, use_gpu=use_gpu)


# --- In this process: the command line -------------------------------------------------


def run_job(
    job: IndexingJob,
    image_ids: Sequence[int],
    batch_size: int | None = None,
    progress: Callable[[BatchResult, int], None] | None = None,
) -> IndexingJob:
    """Process a job's images in this process, batch by batch; ``progress(result, batch size)`` after each."""
    start_job(job)
    for batch in iter_batches(image_ids, batch_size or settings.INDEXING_BATCH_SIZE):
        result, _ = run_batch(job_id=job.pk, image_ids=batch)
        if progress is not None:
            progress(result, len(batch))
    return finish_job(job)


# --- On Celery workers (sent by name: indexing.queue) ------------------------------------


def enqueue_dataset_indexing(dataset: Dataset, split: str | None = None, rebuild_index: bool = True) -> IndexingJob:
    """Create a job for the dataset's pending images and queue it (admin, API, uploads).

    A job of the dataset (and split) still waiting for a worker takes the new photos
    instead, and is returned: repeated requests queue one job. The task is sent only once
    the caller's transaction commits (at once outside one): a worker that got it earlier
    would find neither the job nor the photos saved with it.
    """
    queue.require_workers()
    with transaction.atomic():
        refuse_if_deleting(dataset.pk)
        waiting = join_waiting_job(dataset, split)
        if waiting is not None:
            return waiting
        job, _ = create_job(dataset, split)
        queue.send_on_commit(queue.INDEX_JOB, job.pk, rebuild_index)
    return job


def dispatch_job(*, job_id: int, rebuild_index: bool = True) -> int:
    """Start a queued job and send one batch task per batch; returns the number of batches.

    Only the dispatch that moves the job from queued to running sends its photos: a job
    resumed twice (two index_job_task messages) sends them once. A redelivered dispatch of
    a job already running sends nothing; a job whose dispatch died is resumed once stale.
    """
    job = IndexingJob.objects.get(pk=job_id)
    now = timezone.now()
    if not IndexingJob.objects.filter(pk=job_id, status=IndexingJob.Status.QUEUED).update(
        status=IndexingJob.Status.RUNNING, heartbeat=now, started=Coalesce(F("started"), Value(now))
    ):
        logger.info("Job %s is %s: dispatched already, nothing sent", job_id, job.status)
        return 0
    batches = list(iter_batches(job_image_ids(job), settings.INDEXING_BATCH_SIZE))
    if not batches:
        job = finish_job(job)
        if rebuild_index:
            after_job(job, queue_build=True)
        return 0
    for batch in batches:
        queue.send(queue.PROCESS_BATCH, job_id, batch, rebuild_index)
    return len(batches)


def run_queued_batch(*, job_id: int, image_ids: Sequence[int], rebuild_index: bool = True) -> BatchResult:
    """A worker's batch: run_batch, then after_job if it was the job's last.

    A long job also updates the index on the way, whenever ANN_UPDATE_EVERY crops wait
    outside it: searches rank those in SQL, which slows as they pile up.
    """
    result, finished = run_batch(job_id=job_id, image_ids=image_ids)
    if finished and rebuild_index:
        after_job(IndexingJob.objects.get(pk=job_id), queue_build=True)
    elif rebuild_index and result.crops and builds.waiting_crops(at_least=settings.ANN_UPDATE_EVERY):
        queue_index_update()
    return result


def queue_index_update(*, rebuild: bool = False) -> tuple[QueuedTask, bool]:
    """Queue builds.update_index: new crops added to the served index, or a full build (``rebuild``).

    Once the caller commits; coalesced (indexing.pipeline.queued): while one waits for a worker, a
    second request gets it back. Returns (the waiting task, whether this call queued it).
    """
    queue.require_workers()
    return queued.queue_once(
        kind=queued.INDEX_REBUILD if rebuild else queued.INDEX_UPDATE,
        send=lambda queued_id: queue.send(queue.UPDATE_INDEX, rebuild=rebuild, queued_id=queued_id),
    )
