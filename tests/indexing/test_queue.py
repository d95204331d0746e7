"""The Celery seam: services send tasks by name (indexing.queue), and the names stay a checked contract."""

from __future__ import annotations

import inspect

import pytest
from django.conf import settings

from indexing import queue, tasks
from visualsearch.celery import app as celery_app


def test_every_name_the_services_send_is_a_registered_task_of_the_same_name_as_before() -> None:
    registered = set(celery_app.tasks)
    assert set(queue.TASKS) <= registered
    # The names are the automatic ones the tasks had before they were explicit: messages
    # already in a broker across a deploy find their task.
    functions = {name for name, value in inspect.getmembers(tasks) if hasattr(value, "delay")}
    assert {f"indexing.tasks.{name}" for name in functions} == set(queue.TASKS)


def test_every_task_goes_to_the_gpu_queue() -> None:
    routes = settings.CELERY_TASK_ROUTES
    for name in queue.TASKS:
        route = next(route for pattern, route in routes.items() if name.startswith(pattern.rstrip("*")))
        assert route["queue"] == "gpu", name


def test_send_runs_the_registered_task_eagerly_in_tests(monkeypatch) -> None:
    sent = []
    monkeypatch.setattr(tasks.delete_dataset_task, "run", lambda dataset_id: sent.append(dataset_id) or 0)
    queue.send(queue.DELETE_DATASET, 7)
    assert sent == [7]


@pytest.mark.django_db
def test_send_on_commit_waits_for_the_callers_commit(monkeypatch, django_capture_on_commit_callbacks) -> None:
    sent = []
    monkeypatch.setattr(tasks.index_job_task, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queue.send_on_commit(queue.INDEX_JOB, 3, False)
        assert sent == []  # not before the transaction commits
    assert len(callbacks) == 1 and sent == [(3, False)]


def test_require_workers_refuses_without_a_broker_or_eager_mode(settings) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER, settings.CELERY_BROKER_URL = False, ""
    with pytest.raises(queue.IndexingUnavailable, match="CELERY_BROKER_URL"):
        queue.require_workers()
