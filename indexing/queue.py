"""The sending side of the Celery seam: work for a worker is queued by task name.

Services never import ``indexing.tasks`` (the receiving side, which imports the
services to run them): they call ``send`` or ``send_on_commit`` with one of the names
below, so the tasks sit on top and imports flow one way. The names are the ones the
tasks had before they were explicit (``indexing.tasks.<function>``): messages already in
a broker across a deploy, and ``CELERY_TASK_ROUTES``' ``indexing.tasks.*`` glob, keep
working. tests/indexing/test_tasks.py checks that every name here is a registered task.
"""

from __future__ import annotations

from functools import partial

from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

INDEX_JOB = "indexing.tasks.index_job_task"
PROCESS_BATCH = "indexing.tasks.process_batch_task"
UPDATE_INDEX = "indexing.tasks.update_index_task"
DELETE_DATASET = "indexing.tasks.delete_dataset_task"
RECOMPUTE_DUPLICATES = "indexing.tasks.recompute_duplicates_task"
MODEL_CHANGE = "indexing.tasks.model_change_task"
DESCRIBE_CROPS = "indexing.tasks.describe_crops_task"
DESCRIBE_DATASET = "indexing.tasks.describe_dataset_task"
TASKS = (
    INDEX_JOB,
    PROCESS_BATCH,
    UPDATE_INDEX,
    DELETE_DATASET,
    RECOMPUTE_DUPLICATES,
    MODEL_CHANGE,
    DESCRIBE_CROPS,
    DESCRIBE_DATASET,
)

# Errors worth retrying: the database or broker blinked, not our data. They leave the
# job running for Celery's retry (indexing.tasks) instead of failing it.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


class IndexingUnavailable(RuntimeError):
    """Work for a Celery worker, with no broker to reach one and eager mode off."""


def require_workers() -> None:
    """Refuse work meant for a worker when there is no broker to reach one (and tasks are not eager)."""
    # The settings, as /healthz reads them (Celery's conf is a view of the same values).
    if not settings.CELERY_TASK_ALWAYS_EAGER and not settings.CELERY_BROKER_URL:
        raise IndexingUnavailable(
            "Indexing runs on Celery workers, and CELERY_BROKER_URL is not set: set it and start a worker "
            "(celery -A visualsearch worker -Q gpu,default), or set CELERY_TASK_ALWAYS_EAGER=true to index "
            "inside this process instead."
        )


def send(name: str, *args, **kwargs) -> None:
    """Queue the task ``name`` now.

    Through the registered task's ``delay`` (IndexingConfig.ready registers them in every
    process), which honours CELERY_TASK_ALWAYS_EAGER: the tests and ``manage.py demo``
    run tasks in-process. ``app.send_task`` would ignore eager mode, so it is only the
    fallback of a process that never loaded the tasks.
    """
    task = current_app.tasks.get(name)
    if task is None:
        current_app.send_task(name, args=args, kwargs=kwargs)
        return
    task.delay(*args, **kwargs)


def send_later(name: str, countdown: int, **kwargs) -> None:
    """Queue the task ``name`` to run ``countdown`` seconds from now (at once with eager tasks)."""
    task = current_app.tasks.get(name)
    if task is None:
        current_app.send_task(name, kwargs=kwargs, countdown=countdown or None)
        return
    task.apply_async(kwargs=kwargs, countdown=countdown or None)


def send_on_commit(name: str, *args, **kwargs) -> None:
    """Queue the task ``name`` once the caller's transaction commits (at once outside one).

    A worker that got the message earlier would find neither the rows saved with it nor
    their final state.
    """
    transaction.on_commit(partial(send, name, *args, **kwargs))
