"""The API's indexing writes: repeated requests queue one piece of work; a dataset being deleted gets none."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from indexing import tasks
from indexing.models import Dataset, IndexingJob, QueuedTask, SourceImage
from indexing.pipeline import queued
from tests.factories import make_dataset, make_image


def indexer() -> APIClient:
    user = User.objects.create_user("indexer", password="x" * 12, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["index_dataset", "change_crop"]))
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client


@pytest.fixture
def sent(monkeypatch) -> dict[str, list]:
    """What reached the broker: each task's messages, recorded instead of run (no worker picks them up)."""
    messages: dict[str, list] = {"update_index": [], "index_job": [], "recompute": []}
    monkeypatch.setattr(tasks.update_index_task, "delay", lambda **kw: messages["update_index"].append(kw))
    monkeypatch.setattr(tasks.index_job_task, "delay", lambda *args: messages["index_job"].append(args))
    monkeypatch.setattr(tasks.recompute_duplicates_task, "delay", lambda *args: messages["recompute"].append(args))
    return messages


# Each request commits on its own, as in production: the first one's work is queued before the second arrives.
@pytest.mark.django_db(transaction=True)
def test_two_rebuild_requests_make_one_build_until_it_starts(sent):
    client = indexer()
    first, second = client.post("/api/index/rebuild"), client.post("/api/index/rebuild")
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] == second.json()["id"]
    assert (first.json()["coalesced"], second.json()["coalesced"]) == (False, True)
    assert len(sent["update_index"]) == 1 and sent["update_index"][0]["rebuild"] is True
    assert QueuedTask.objects.count() == 1

    queued.started(sent["update_index"][0]["queued_id"])  # a worker took it: the next request is new work
    third = client.post("/api/index/rebuild").json()
    assert third["id"] != first.json()["id"] and not third["coalesced"] and len(sent["update_index"]) == 2


@pytest.mark.django_db(transaction=True)
def test_two_index_requests_for_a_dataset_make_one_job_with_every_pending_photo(sent):
    client = indexer()
    dataset = make_dataset()
    make_image(dataset, seed=1)
    first = client.post(f"/api/datasets/{dataset.pk}/index")
    make_image(dataset, seed=2)  # uploaded while the job waits for a worker
    second = client.post(f"/api/datasets/{dataset.pk}/index")
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] == second.json()["id"] and second.json()["total_images"] == 2
    assert IndexingJob.objects.count() == 1 and len(sent["index_job"]) == 1
    assert set(SourceImage.objects.values_list("job_id", flat=True)) == {first.json()["id"]}


@pytest.mark.django_db(transaction=True)
def test_two_recompute_requests_for_a_dataset_queue_one(sent):
    client = indexer()
    dataset = make_dataset()
    first = client.post(f"/api/datasets/{dataset.pk}/duplicates/recompute")
    second = client.post(f"/api/datasets/{dataset.pk}/duplicates/recompute")
    assert (first.status_code, second.status_code) == (202, 202)
    assert (first.json()["coalesced"], second.json()["coalesced"]) == (False, True)
    assert len(sent["recompute"]) == 1


@pytest.mark.django_db
def test_work_for_a_dataset_being_deleted_is_refused_with_409_and_nothing_queued(sent):
    client = indexer()
    dataset = make_dataset("doomed")
    make_image(dataset, seed=1)
    failed = make_image(dataset, seed=2)
    SourceImage.objects.filter(pk=failed.pk).update(status=SourceImage.Status.FAILED)
    job = IndexingJob.objects.create(dataset=dataset, status=IndexingJob.Status.FAILED, total_images=1)
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.DELETING)
    for url in (
        f"/api/datasets/{dataset.pk}/index",
        f"/api/datasets/{dataset.pk}/retry",
        f"/api/datasets/{dataset.pk}/duplicates/recompute",
        f"/api/jobs/{job.pk}/resume",
    ):
        response = client.post(url)
        assert response.status_code == 409, (url, response.content)
        assert "being deleted" in response.json()["error"]
    assert IndexingJob.objects.count() == 1 and not QueuedTask.objects.exists()
    assert sent == {"update_index": [], "index_job": [], "recompute": []}
    assert SourceImage.objects.get(pk=failed.pk).status == SourceImage.Status.FAILED
