"""Description work with its cost bounded: coalesced per dataset, one run of a dataset at a time, and
no new run queued past DESCRIPTIONS_MAX_BACKLOG crops waiting (indexing never waits on the describer).

- Coalesced: each indexed batch asks for a run of its dataset (indexing.pipeline.queued): while
  one waits in the queue, later batches' crops join it, so the gpu queue holds at most one
  waiting description run per dataset whatever the number of batches.
- One at a time: a run holds a PostgreSQL advisory lock on its dataset while it describes (a
  dead worker's lock goes with its connection). A queued run finding the lock taken comes back
  RETRY_SECONDS later instead of describing the same crops beside it.
- Back-pressure: before queueing, the crops no model has described yet are counted (up to
  DESCRIPTIONS_MAX_BACKLOG, so the count is bounded too); at the limit no run is queued, and each
  queued run takes at most that many crops. The rest wait, described by ``manage.py describe_crops``
  (resumable), or by the run a later batch queues once the describer has caught up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from indexing import queue
from indexing.descriptions import runs
from indexing.models import Crop, Dataset, Description, DescriptionRun, QueuedTask
from indexing.pipeline import queued

logger = logging.getLogger(__name__)

DESCRIBE_DATASET = "describe_dataset"  # the QueuedTask kind; target: the dataset's id
LOCK_CLASS = 2026  # the advisory lock's first key (the dataset id is the second): description runs
RETRY_SECONDS = 30

QUEUED, COALESCED, BACKLOG_FULL = "queued", "coalesced", "backlog full"


def waiting_crops(limit: int) -> int:
    """Active crops of active datasets that no model has described, counted up to ``limit``."""
    described = Description.objects.filter(crop=OuterRef("pk"))
    waiting = Crop.objects.filter(is_active=True, image__dataset__status=Dataset.Status.ACTIVE).exclude(
        Exists(described)
    )
    return waiting.order_by().values("pk")[:limit].count()


def request_run(*, dataset_id: int) -> str:
    """Queue a description run of the dataset, unless one waits already or the backlog is full; which."""
    lost = timezone.now() - timedelta(seconds=settings.INDEXING_JOB_STALE_SECONDS)
    if QueuedTask.objects.filter(kind=DESCRIBE_DATASET, target=dataset_id, created__gte=lost).exists():
        return COALESCED  # the waiting run takes this batch's crops too; the backlog is not counted again
    limit = settings.DESCRIPTIONS_MAX_BACKLOG
    if waiting_crops(limit) >= limit:
        logger.warning(
            "%d or more crops wait for descriptions (DESCRIPTIONS_MAX_BACKLOG): no run queued for dataset %s; "
            "manage.py describe_crops describes them",
            limit,
            dataset_id,
        )
        return BACKLOG_FULL
    _, created = queue_run(dataset_id)
    return QUEUED if created else COALESCED


def queue_run(dataset_id: int, countdown: int = 0) -> tuple[QueuedTask, bool]:
    def send(queued_id: int) -> None:
        queue.send_later(queue.DESCRIBE_DATASET, countdown, dataset_id=dataset_id, queued_id=queued_id)

    return queued.queue_once(kind=DESCRIBE_DATASET, target=dataset_id, send=send)


def run_queued(*, dataset_id: int, queued_id: int | None) -> DescriptionRun | None:
    """The queued run of a dataset: its undescribed crops, at most DESCRIPTIONS_MAX_BACKLOG; None if none ran."""
    queued.started(queued_id)  # batches from now on ask for a run of their own (it waits for this one)
    dataset = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.ACTIVE).first()
    if dataset is None:  # deleted, or being deleted, since it was queued
        return None
    with dataset_lock(dataset_id) as held:
        if not held:
            logger.info("Dataset %s is being described by another run; this one comes back later", dataset_id)
            if not settings.CELERY_TASK_ALWAYS_EAGER:  # in-process tasks would come back at once, forever
                queue_run(dataset_id, countdown=RETRY_SECONDS)
            return None
        crops = Crop.objects.filter(image__dataset=dataset)
        return runs.run(crops, dataset=dataset, limit=settings.DESCRIPTIONS_MAX_BACKLOG)


@contextmanager
def dataset_lock(dataset_id: int) -> Iterator[bool]:
    """Whether this connection took the dataset's description lock (held until the block ends)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, dataset_id])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, dataset_id])
