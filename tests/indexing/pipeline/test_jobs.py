"""The job runner's rules: when the FAISS index is rebuilt after a job, and what happens without a worker."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from rest_framework.test import APIClient

from indexing import queue
from indexing.models import IndexBuild, IndexingJob, SourceImage
from indexing.pipeline import jobs
from tests.factories import make_crop, make_dataset, make_image, unit_vectors
from visualsearch.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_worker(settings):
    """No broker and eager mode off: what a deployment that forgot CELERY_BROKER_URL gets."""
    # Saved before the settings change: Celery's conf reads Django's settings live, so a value
    # saved after it would be "restored" as False for every later test.
    saved = {"task_always_eager": celery_app.conf.task_always_eager, "broker_url": celery_app.conf.broker_url}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.update(task_always_eager=False, broker_url="")
    yield
    celery_app.conf.update(**saved)


@pytest.fixture
def finished_job() -> IndexingJob:
    """A done job over an image with three crops, and no FAISS build yet."""
    dataset = make_dataset()
    image = make_image(dataset)
    for vector in unit_vectors(3):
        make_crop(image, vector)
    return IndexingJob.objects.create(dataset=dataset, status=IndexingJob.Status.DONE, total_images=1)


def test_after_a_job_the_index_is_rebuilt_only_when_the_served_build_is_stale(finished_job):
    first = jobs.after_job(finished_job)
    assert first is not None and first.status == IndexBuild.Status.READY and first.size == 3
    assert jobs.after_job(finished_job) is None  # nothing changed since: the served build is current
    make_crop(SourceImage.objects.get(), unit_vectors(1, seed=7)[0])
    assert jobs.after_job(finished_job).size == 4


def test_a_worker_queues_the_build_as_a_task_of_its_own(finished_job, django_capture_on_commit_callbacks):
    # The tests run tasks eagerly (pyproject.toml), so the queued build is published once sent (on commit).
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.after_job(finished_job, queue_build=True) is None
    assert IndexBuild.objects.get().size == 3


def test_without_a_worker_indexing_is_refused_with_what_to_set(no_worker):
    dataset = make_dataset()
    make_image(dataset)
    with pytest.raises(queue.IndexingUnavailable, match="CELERY_BROKER_URL.*CELERY_TASK_ALWAYS_EAGER"):
        jobs.enqueue_dataset_indexing(dataset)
    with pytest.raises(queue.IndexingUnavailable):
        jobs.queue_index_update(rebuild=True)
    assert not IndexingJob.objects.exists() and not IndexBuild.objects.exists()


def test_without_a_worker_the_api_answers_503_and_the_admin_says_why(no_worker, admin_client):
    dataset = make_dataset()
    user = User.objects.create_user("indexer")
    user.user_permissions.add(Permission.objects.get(codename="index_dataset"))
    api = APIClient()
    api.force_authenticate(user)
    response = api.post(f"/api/datasets/{dataset.pk}/index")
    assert response.status_code == 503
    assert "CELERY_BROKER_URL" in response.json()["error"]

    url = reverse("admin:indexing_dataset_changelist")
    for action in ("index_dataset", "rebuild_index"):
        page = admin_client.post(url, {"action": action, "_selected_action": [dataset.pk]}, follow=True)
        assert "CELERY_BROKER_URL" in " ".join(str(message) for message in page.context["messages"])
    assert not IndexingJob.objects.exists() and not IndexBuild.objects.exists()
    # The site itself is up: search needs no broker.
    health = admin_client.get("/healthz")
    assert health.status_code == 200 and health.json()["broker"]["mode"] == "none"
