"""A job's time left, as the datasets page and GET /api/jobs/{id} show it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from indexing.models import IndexingJob
from search.progress import eta_seconds, eta_text
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
