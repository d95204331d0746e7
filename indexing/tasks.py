"""Celery tasks: thin wrappers over indexing.services, routed to the ``gpu`` queue.

``acks_late`` + ``reject_on_worker_lost``: a batch whose worker dies is delivered
again, and the services make that redelivery harmless (images already done are
skipped).
"""

from __future__ import annotations

import logging
from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from indexing import services
from indexing.models import Dataset, IndexingJob

logger = logging.getLogger(__name__)

# Errors worth retrying: the database or broker blinked, not our data.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
RETRY = dict(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)


def enqueue_dataset_indexing(dataset: Dataset, split: str | None = None, rebuild_index: bool = True) -> IndexingJob:
    """Create a job for the dataset's pending images and queue it (admin, API, uploads).

    The task is sent only once the caller's transaction commits (at once outside one):
    a worker that got it earlier would find neither the job nor the photos saved with it.
    """
    job, _ = services.create_job(dataset, split)
    transaction.on_commit(partial(index_dataset.delay, job.pk, rebuild_index))
    return job


@shared_task(**RETRY)
def index_dataset(job_id: int, rebuild_index: bool = True) -> int:
    """Split a job into batches, one task each; returns the number of batches."""
    job = IndexingJob.objects.get(pk=job_id)
    image_ids = services.job_image_ids(job)
    batches = list(services.iter_batches(image_ids, settings.INDEXING_BATCH_SIZE))
    services.start_job(job)
    if not batches:
        services.finish_job(job)
        return 0
    for batch in batches:
        process_batch.delay(job_id, batch, rebuild_index)
    return len(batches)


@shared_task(bind=True, **RETRY)
def process_batch(self, job_id: int, image_ids: list[int], rebuild_index: bool = True) -> dict:
    try:
        result = services.process_images(image_ids)
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        services.fail_job(job_id, f"batch of {len(image_ids)} images failed: {type(exc).__name__}: {exc}")
        raise
    if services.refresh_job_progress(job_id) and rebuild_index:
        build_index.delay()
    return {"done": result.done, "failed": result.failed, "crops": result.crops, "skipped": result.skipped}


@shared_task(**RETRY)
def build_index(kind: str | None = None) -> int:
    return services.build_index(kind).pk
