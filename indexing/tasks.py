"""Celery tasks, routed to the ``gpu`` queue: the receiving side of indexing.queue, each one call into a service.

Services send these by name (indexing.queue) and never import this module: it sits on
top of what it calls. The names are explicit and unchanged since they were automatic.

``acks_late`` + ``reject_on_worker_lost``: a batch whose worker dies is delivered
again, and the job runner makes that redelivery harmless (images already done are
skipped).
"""

from __future__ import annotations

from celery import shared_task

from indexing import queue
from indexing.ann import builds
from indexing.catalog import deletion
from indexing.catalog.guards import DatasetDeleting
from indexing.descriptions import backlog
from indexing.descriptions import runs as descriptions
from indexing.duplicates import groups as duplicate_groups
from indexing.model_changes import runner
from indexing.pipeline import jobs, queued

RETRY = dict(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=queue.TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)


@shared_task(name=queue.INDEX_JOB, **RETRY)
def index_job_task(job_id: int, rebuild_index: bool = True) -> int:
    """Start a queued job and send one process_batch_task per batch; returns the number of batches."""
    return jobs.dispatch_job(job_id=job_id, rebuild_index=rebuild_index)


@shared_task(name=queue.PROCESS_BATCH, **RETRY)
def process_batch_task(job_id: int, image_ids: list[int], rebuild_index: bool = True) -> dict:
    result = jobs.run_queued_batch(job_id=job_id, image_ids=image_ids, rebuild_index=rebuild_index)
    return {"done": result.done, "failed": result.failed, "crops": result.crops, "skipped": result.skipped}


@shared_task(name=queue.UPDATE_INDEX, **RETRY)
def update_index_task(rebuild: bool = False, kind: str | None = None, queued_id: int | None = None) -> int | None:
    """builds.update_index: add new crops to the served index, or build it afresh; returns the new build's id."""
    queued.started(queued_id)  # requests from now on queue a build of their own (indexing.pipeline.queued)
    build = builds.update_index(kind=kind, rebuild=rebuild)
    return build.pk if build else None


@shared_task(name=queue.DELETE_DATASET, **RETRY)
def delete_dataset_task(dataset_id: int) -> int:
    """Delete a large dataset batch by batch (indexing.catalog.deletion); returns how many photos went."""
    return deletion.run_deletion(dataset_id=dataset_id)


@shared_task(name=queue.RECOMPUTE_DUPLICATES, **RETRY)
def recompute_duplicates_task(dataset_id: int, queued_id: int | None = None) -> int:
    """Match a dataset's photos again (admin action, API); returns how many joined a group."""
    queued.started(queued_id)
    try:
        return duplicate_groups.recompute_dataset(dataset_id=dataset_id)
    except DatasetDeleting:  # deleted since it was queued: nothing left to match
        return 0


@shared_task(name=queue.MODEL_CHANGE, **RETRY)
def model_change_task(change_id: int) -> str:
    """Re-embed or redetect, resuming where a dead worker stopped; returns its status."""
    return runner.run_change(change_id=change_id).status


# No autoretry on the describer's failures: a dead or slow endpoint ends the run "failed" with its
# reason (indexing.descriptions.runs), and the crops wait for the next run; retries would only queue
# more waiting on it. The database blinking is still retried.
@shared_task(name=queue.DESCRIBE_DATASET, **RETRY)
def describe_dataset_task(dataset_id: int, queued_id: int | None = None) -> dict | None:
    """Describe a dataset's undescribed crops, one run of it at a time (indexing.descriptions.backlog)."""
    record = backlog.run_queued(dataset_id=dataset_id, queued_id=queued_id)
    if record is None:
        return None
    return {"run": record.pk, "status": record.status, "described": record.described, "error": record.error}


# The batch's own run, as batches asked before their runs were coalesced per dataset: kept for
# the messages already in a broker across a deploy.
@shared_task(name=queue.DESCRIBE_CROPS, **RETRY)
def describe_crops_task(image_ids: list[int]) -> dict:
    """Describe the crops of a batch just indexed; returns the run's status and counts."""
    record = descriptions.describe_images(image_ids)
    return {"run": record.pk, "status": record.status, "described": record.described, "error": record.error}
