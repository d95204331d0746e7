"""A job's time left, as the datasets page and GET /api/jobs/{id} show it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from indexing.models import IndexingJob
from search.progress import duration_seconds, duration_text, eta_seconds, eta_text
from tests.factories import make_dataset


@pytest.fixture
def running_job(db) -> IndexingJob:
    return IndexingJob.objects.create(
        dataset=make_dataset(),
        status=IndexingJob.Status.RUNNING,
        total_images=60,
        processed_images=20,
        failed_images=3,
        started=timezone.now() - timedelta(seconds=40),
    )


def test_time_left_follows_the_pace_so_far(running_job):
    now = running_job.started + timedelta(seconds=40)
    assert eta_seconds(running_job, now) == pytest.approx(80.0)  # 20 photos in 40 s, 40 to go
    assert eta_text(80.0) == "about 1 min left" and eta_text(12.4) == "about 12 s left"
    body = APIClient().get(f"/api/jobs/{running_job.pk}").json()
    assert body["eta_seconds"] == pytest.approx(80.0, abs=5.0)
    assert body["processed_images"] == 20 and body["failed_images"] == 3


@pytest.mark.parametrize(
    "change", [{"processed_images": 0}, {"status": IndexingJob.Status.QUEUED}, {"status": IndexingJob.Status.DONE}]
)
def test_no_time_left_is_told_before_there_is_a_pace_or_after_the_end(running_job, change):
    for field, value in change.items():
        setattr(running_job, field, value)
    assert eta_seconds(running_job) is None and eta_text(None) == ""


def test_a_job_row_says_when_it_ran_and_how_long_it_took(running_job):
    started = running_job.started
    IndexingJob.objects.filter(pk=running_job.pk).update(
        status=IndexingJob.Status.DONE, processed_images=60, finished=started + timedelta(seconds=185)
    )
    running_job.refresh_from_db()
    assert duration_seconds(running_job) == pytest.approx(185.0)
    assert [duration_text(s) for s in (None, 4.4, 185, 4500)] == ["", "4 s", "3 min 5 s", "1 h 15 min"]

    row = Client().get("/datasets").content.decode()
    assert f'started <time datetime="{started:%Y-%m-%dT%H:%M:%S}' in row  # TIME_ZONE is UTC in tests
    assert f"{started:%Y-%m-%d %H:%M} UTC</time>" in row
    assert "took 3 min 5 s" in row


def test_a_queued_job_says_when_it_was_queued_and_claims_no_duration(running_job):
    IndexingJob.objects.filter(pk=running_job.pk).update(status=IndexingJob.Status.QUEUED, started=None)
    running_job.refresh_from_db()
    assert duration_seconds(running_job) is None
    row = Client().get("/datasets").content.decode()
    assert "queued <time" in row and '<span class="job-took"></span>' in row
