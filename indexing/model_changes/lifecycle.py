"""A model change's life, shared by re-embed and redetect: opened, run by one runner, stale, resumed.

The runners (indexing.model_changes.reembed, indexing.model_changes.redetect) commit their progress with their
work, batch by batch, so a change whose worker or command died resumes exactly where
it stopped. Only one change of a kind is open at a time; one runner at a time holds a
change (a session advisory lock, released by PostgreSQL if the process dies).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from indexing import queue
from indexing.models import ModelChange
from indexing.pipeline.recovery import mark_silent_stale
from indexing.queue import TRANSIENT_ERRORS, require_workers

logger = logging.getLogger(__name__)
T = TypeVar("T")

OPEN = (ModelChange.Status.QUEUED, ModelChange.Status.RUNNING, ModelChange.Status.STALE, ModelChange.Status.FAILED)
RESUMABLE = (ModelChange.Status.STALE, ModelChange.Status.FAILED)
# pg_try_advisory_lock(CHANGE_LOCK, change id): a redelivered task finds the change taken and leaves it.
CHANGE_LOCK = 0x5653


class ChangeRefused(ValueError):
    """A change that cannot start or resume: another is open, the model is already served, or it is alive."""


def open_change(kind: str) -> ModelChange | None:
    return ModelChange.objects.filter(kind=kind, status__in=OPEN).order_by("-created").first()


def open_or_resume(*, kind: str, source: str, version: str, total: int, **fields) -> ModelChange:
    """A new change to ``source``, or the open one to the same model reopened; refused while another is open."""
    current = open_change(kind)
    if current is not None:
        if current.source != source or current.version != version:
            raise ChangeRefused(
                f"A {kind} change to {current.version or current.source} is {current.status}; "
                "resume it, or wait for it to finish, before starting another."
            )
        reopen(current)
        return current
    return ModelChange.objects.create(kind=kind, source=source, version=version, total=total, **fields)


def reopen(change: ModelChange) -> ModelChange:
    """A stale or failed change queued again (it resumes where it stopped); a live one is left as it is."""
    ModelChange.objects.filter(pk=change.pk, status__in=RESUMABLE).update(
        status=ModelChange.Status.QUEUED, error="", finished=None, heartbeat=timezone.now()
    )
    change.refresh_from_db()
    return change


@contextmanager
def running(change: ModelChange) -> Iterator[bool]:
    """Hold the change for this runner: yields False when another runner holds it, or it is done (leave it then).

    An error fails the change with its reason (resume it once fixed); transient ones
    (the database or broker blinked) leave it running for the task's retry.
    """
    if not try_lock(change.pk):
        logger.info("%s is being run by another worker; leaving it", change)
        yield False
        return
    change.refresh_from_db()
    if change.status == ModelChange.Status.DONE:
        unlock(change.pk)
        yield False
        return
    try:
        ModelChange.objects.filter(pk=change.pk, started__isnull=True).update(started=timezone.now())
        ModelChange.objects.filter(pk=change.pk).update(status=ModelChange.Status.RUNNING, heartbeat=timezone.now())
        yield True
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        fail(change.pk, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        unlock(change.pk)


def load_model(change: ModelChange, load: Callable[[str], T]) -> T:
    """The change's model, loaded by ``load(source)``; refused when the source now holds another version."""
    model = load(change.source)
    if model.version != change.version:
        raise ChangeRefused(f"{change.source} is now {model.version}, not {change.version} as when the change started.")
    return model


def try_lock(change_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [CHANGE_LOCK, change_id])
        return bool(cursor.fetchone()[0])


def unlock(change_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [CHANGE_LOCK, change_id])


def advance(change_id: int, *, processed: int, **fields) -> None:
    """Count a batch in, in the batch's own transaction: progress and work commit together."""
    assert transaction.get_connection().in_atomic_block, "call inside the batch's transaction"
    ModelChange.objects.filter(pk=change_id).update(
        processed=F("processed") + processed,
        total=Greatest(F("total"), F("processed") + processed),  # work that arrived while it ran counts too
        heartbeat=timezone.now(),
        status=ModelChange.Status.RUNNING,
        **fields,
    )


def finish(change_id: int) -> None:
    ModelChange.objects.filter(pk=change_id).update(
        status=ModelChange.Status.DONE, finished=timezone.now(), heartbeat=timezone.now(), error=""
    )


def fail(change_id: int, error: str) -> None:
    ModelChange.objects.filter(pk=change_id).update(
        status=ModelChange.Status.FAILED, error=error[:4000], finished=timezone.now()
    )


def mark_stale_changes() -> int:
    """Queued or running changes silent for INDEXING_JOB_STALE_SECONDS become stale; how many."""
    return mark_silent_stale(
        ModelChange, "No progress for {seconds} s: its worker or command stopped. Resume it to go on where it stopped."
    )


def recent_changes(limit: int = 5) -> list[ModelChange]:
    """The newest model changes, stale ones marked: what the datasets page shows."""
    mark_stale_changes()
    return list(ModelChange.objects.order_by("-created")[:limit])


def queue_change(change: ModelChange) -> None:
    """Hand a change to a Celery worker, once the caller's transaction commits."""
    require_workers()
    queue.send_on_commit(queue.MODEL_CHANGE, change.pk)


def resume_open_change(*, kind: str) -> ModelChange:
    """The open change of ``kind``, reopened if stale or failed; refused when there is none."""
    mark_stale_changes()
    change = open_change(kind)
    if change is None:
        raise ChangeRefused(f"There is no {kind} change to resume.")
    return reopen(change)
