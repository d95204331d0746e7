"""Description work bounded: batches of a dataset coalesce onto one waiting run, no run is queued past
DESCRIPTIONS_MAX_BACKLOG waiting crops (and a run takes at most that many), one run of a dataset at a time."""

from __future__ import annotations

import psycopg
import pytest

from indexing.descriptions import backlog, hooks
from indexing.models import Crop, Description, DescriptionRun, QueuedTask
from tests import workers
from tests.indexing.descriptions.conftest import crops_with_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def describing(settings, stub_vlm):
    settings.DESCRIPTIONS_ENABLED = True
    settings.DESCRIPTIONS_MAX_BACKLOG = 100
    return stub_vlm


def test_batches_of_a_dataset_coalesce_onto_one_waiting_run(describing, django_capture_on_commit_callbacks):
    crops = crops_with_files(4)
    # The tests run tasks eagerly: the run is sent, and runs, once the batches' transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        assert hooks.after_batch([crops[0].image_id, crops[1].image_id], crops=2) == backlog.QUEUED
        assert hooks.after_batch([crops[2].image_id, crops[3].image_id], crops=2) == backlog.COALESCED
        assert QueuedTask.objects.filter(kind=backlog.DESCRIBE_DATASET).count() == 1
    run = DescriptionRun.objects.get()  # one run described both batches
    assert (run.status, run.described, run.dataset_id) == (DescriptionRun.Status.DONE, 4, crops[0].image.dataset_id)
    assert len(describing.requests) == 4
    assert not QueuedTask.objects.exists()  # started: the next batch asks for a run of its own


def test_past_the_backlog_no_run_is_queued_and_a_run_takes_at_most_that_many(
    describing, settings, django_capture_on_commit_callbacks
):
    settings.DESCRIPTIONS_MAX_BACKLOG = 3
    crops = crops_with_files(4)
    with django_capture_on_commit_callbacks(execute=True):
        assert hooks.after_batch([crops[0].image_id], crops=4) == backlog.BACKLOG_FULL
    assert not QueuedTask.objects.exists() and not DescriptionRun.objects.exists()
    assert describing.requests == []  # indexing went on; the describer was not asked
    Description.objects.create(crop=crops[0], text="described elsewhere", model="other")  # 3 left: still full
    assert hooks.after_batch([crops[0].image_id], crops=4) == backlog.BACKLOG_FULL
    Description.objects.create(crop=crops[1], text="described elsewhere", model="other")  # 2 left: below
    with django_capture_on_commit_callbacks(execute=True):
        assert hooks.after_batch([crops[0].image_id], crops=4) == backlog.QUEUED
    # The queued run describes with the configured model (the "other" one's words do not count for it),
    # at most DESCRIPTIONS_MAX_BACKLOG crops; the rest wait for describe_crops or a later run.
    assert DescriptionRun.objects.get().described == 3
    assert Crop.objects.exclude(descriptions__model__startswith="openai:").count() == 1


def test_one_run_of_a_dataset_at_a_time(describing, settings, django_capture_on_commit_callbacks):
    crops = crops_with_files(2)
    dataset_id = crops[0].image.dataset_id
    with psycopg.connect(workers.test_database_url(), autocommit=True) as other:  # another worker's run holds the lock
        other.execute("SELECT pg_advisory_lock(%s, %s)", [backlog.LOCK_CLASS, dataset_id])
        assert backlog.run_queued(dataset_id=dataset_id, queued_id=None) is None
        assert describing.requests == [] and not DescriptionRun.objects.exists()
        settings.CELERY_TASK_ALWAYS_EAGER = False
        with django_capture_on_commit_callbacks(execute=False):  # a worker would get it RETRY_SECONDS later
            assert backlog.run_queued(dataset_id=dataset_id, queued_id=None) is None
        assert QueuedTask.objects.filter(kind=backlog.DESCRIBE_DATASET, target=dataset_id).exists()
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [backlog.LOCK_CLASS, dataset_id])
    settings.CELERY_TASK_ALWAYS_EAGER = True
    run = backlog.run_queued(dataset_id=dataset_id, queued_id=None)
    assert run is not None and run.described == 2
