"""Work queued for the workers at most once per kind and target: repeated requests coalesce.

Two "rebuild the index" clicks (or API calls, or admin actions) while the first build
still waits in the queue make one build, not two: the second gets the waiting one back.
A ``QueuedTask`` row stands for the waiting work; the task deletes it when it starts
(``started``), so a request made after that queues new work (it may have new crops to
take). A row older than ``INDEXING_JOB_STALE_SECONDS`` is taken for lost (its message
never reached a worker) and replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from indexing.models import QueuedTask

INDEX_REBUILD = "index_rebuild"
INDEX_UPDATE = "index_update"
RECOMPUTE_DUPLICATES = "recompute_duplicates"


def queue_once(*, kind: str, target: int = 0, send: Callable[[int], object]) -> tuple[QueuedTask, bool]:
    """The waiting task of ``kind`` for ``target``, or a new one, ``send(its id)`` once the caller commits.

    Returns (task, created): ``created`` is False when an earlier request's task still waits.
    """
    lost = timezone.now() - timedelta(seconds=settings.INDEXING_JOB_STALE_SECONDS)
    with transaction.atomic():
        QueuedTask.objects.filter(kind=kind, target=target, created__lt=lost).delete()
        # A concurrent request's row, committed between the get and the create, is returned (unique constraint).
        task, created = QueuedTask.objects.get_or_create(kind=kind, target=target)
        if created:
            transaction.on_commit(lambda: _send(task, send))
    return task, created


def _send(task: QueuedTask, send: Callable[[int], object]) -> None:
    try:
        send(task.pk)
    except Exception:
        task.delete()  # never sent: the next request queues it again instead of waiting on nothing
        raise


def started(queued_id: int | None) -> None:
    """The task with this id has started: later requests queue new work. Harmless when already gone."""
    if queued_id is not None:
        QueuedTask.objects.filter(pk=queued_id).delete()
