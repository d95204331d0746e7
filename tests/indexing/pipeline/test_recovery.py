"""Retry and recovery: failed photos indexed again once fixed; a job whose process died is marked stale and resumed."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from indexing import tasks
from indexing.catalog import ingest
from indexing.models import Crop, Dataset, IndexingJob, SourceImage
from indexing.pipeline import jobs, recovery
from tests.factories import make_dataset, make_image

pytestmark = pytest.mark.django_db


def curator(*codenames: str) -> User:
    name = "curator-" + "-".join(codenames)
    user = User.objects.create_user(name, password="x" * 12, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def broken_photo(real_models, coco_subset_files: list[Path]) -> tuple[Dataset, SourceImage, bytes]:
    """Three photos indexed, one of which failed: its stored file was damaged before indexing."""
    dataset = make_dataset("retry")
    ingest.ingest_files(dataset, [(path, "train") for path in coco_subset_files[:3]])
    image = dataset.images.order_by("id").first()
    good = image.file.read()
    image.file.close()
    default_storage.delete(image.file.name)
    default_storage.save(image.file.name, __import__("io").BytesIO(b"not a photo any more"))
    job, ids = jobs.create_job(dataset)
    jobs.run_job(job, ids)
    image.refresh_from_db()
    assert image.status == SourceImage.Status.FAILED, image.error
    return dataset, image, good


def fix(image: SourceImage, good: bytes) -> None:
    from django.core.files.base import ContentFile

    default_storage.delete(image.file.name)
    assert default_storage.save(image.file.name, ContentFile(good)) == image.file.name


def test_failed_photos_are_indexed_again_through_the_api_once_fixed(broken_photo, django_capture_on_commit_callbacks):
    dataset, image, good = broken_photo
    client = APIClient()
    client.force_authenticate(curator())
    assert client.post(f"/api/datasets/{dataset.pk}/retry").status_code == 403
    fix(image, good)
    client.force_authenticate(curator("index_dataset"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/datasets/{dataset.pk}/retry")
    assert response.status_code == 202, response.content
    image.refresh_from_db()
    assert image.status == SourceImage.Status.DONE and image.error == ""
    assert Crop.objects.filter(image=image).exists()
    job = IndexingJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.total_images, job.failed_images) == (IndexingJob.Status.DONE, 1, 0)
    # Nothing failed is left: a second retry has nothing to do.
    assert client.post(f"/api/datasets/{dataset.pk}/retry").json() == {"error": "No failed photos to retry."}


def test_the_datasets_page_shows_staff_a_retry_button_that_works(
    broken_photo, client, django_capture_on_commit_callbacks
):
    dataset, image, good = broken_photo
    assert b"Retry 1 failed photo" not in client.get("/datasets").content  # anonymous: no button
    assert client.post(f"/datasets/{dataset.pk}/retry").status_code == 403
    client.force_login(curator("index_dataset"))
    assert b"Retry 1 failed photo" in client.get("/datasets").content
    fix(image, good)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/datasets/{dataset.pk}/retry", follow=True)
    assert b"queued over the failed photos" in response.content
    image.refresh_from_db()
    assert image.status == SourceImage.Status.DONE


def test_the_command_retries_here_and_a_photo_still_broken_fails_again_with_its_reason(broken_photo):
    dataset, image, good = broken_photo
    call_command("retry_failed", f"{dataset.name}:{dataset.version}")
    image.refresh_from_db()
    assert image.status == SourceImage.Status.FAILED and "not an image file" in image.error
    fix(image, good)
    call_command("retry_failed", str(dataset.pk))
    image.refresh_from_db()
    assert image.status == SourceImage.Status.DONE


def test_a_job_whose_command_died_is_marked_stale_on_read_and_resumed(real_models, coco_subset_files, settings):
    dataset = make_dataset("killed")
    ingest.ingest_files(dataset, [(path, "") for path in coco_subset_files[:4]])
    job, ids = jobs.create_job(dataset)
    jobs.start_job(job)
    jobs.run_batch(job_id=job.pk, image_ids=ids[:2])  # then the process died: the job says "running"
    settings.INDEXING_JOB_STALE_SECONDS = 60
    assert APIClient().get(f"/api/jobs/{job.pk}").json()["status"] == "running"  # alive a minute ago
    IndexingJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(seconds=61))
    # Reads mark stale jobs at most once per STALE_CHECK_SECONDS: this one, right after, writes nothing.
    assert APIClient().get(f"/api/jobs/{job.pk}").json()["status"] == "running"
    cache.delete(recovery.STALE_CHECK_KEY)  # the interval has passed
    body = APIClient().get(f"/api/jobs/{job.pk}").json()
    assert body["status"] == "stale" and body["processed_images"] == 2

    call_command("recover_jobs", "--resume", "--here")
    job.refresh_from_db()
    assert (job.status, job.processed_images, job.total_images) == (IndexingJob.Status.DONE, 4, 4)
    assert not dataset.images.exclude(status=SourceImage.Status.DONE).exists()
    with pytest.raises(recovery.NotResumable):
        recovery.resume_job(job=job)


def test_a_late_batch_revives_a_job_marked_stale(settings):
    dataset = make_dataset()
    job = IndexingJob.objects.create(dataset=dataset, status=IndexingJob.Status.RUNNING, total_images=2)
    IndexingJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(hours=3))
    settings.INDEXING_JOB_STALE_SECONDS = 3600
    assert recovery.mark_stale_jobs() == 1
    jobs.refresh_job_progress(job.pk)
    job.refresh_from_db()
    assert job.status == IndexingJob.Status.RUNNING and job.heartbeat > timezone.now() - timedelta(minutes=1)


def test_the_admin_has_no_add_forms_for_photos_and_crops(admin_client):
    assert admin_client.get("/admin/indexing/sourceimage/add/").status_code == 403
    assert admin_client.get("/admin/indexing/crop/add/").status_code == 403
    assert b"/admin/indexing/sourceimage/add/" not in admin_client.get("/admin/indexing/sourceimage/").content


# --- End to end: a real Celery worker on Redis, killed ---------------------------------


@pytest.fixture
def worker_env(worker_env):
    """One photo per batch, so that a worker killed early leaves most of its job undone."""
    return {**worker_env, "INDEXING_BATCH_SIZE": "1"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("real_models")
def test_end_to_end_a_job_whose_worker_died_is_marked_stale_and_resumed(
    start_worker, broker, coco_subset_files, settings
):
    import redis

    from tests.workers import wait_for

    dataset = make_dataset("crashed")
    ingest.ingest_files(dataset, [(path, "") for path in coco_subset_files[:8]])
    worker = start_worker()
    job = jobs.enqueue_dataset_indexing(dataset)
    wait_for(lambda: IndexingJob.objects.get(pk=job.pk).processed_images >= 1, 300, "the first batch", worker)
    worker.kill()
    redis.Redis.from_url(broker).flushdb()  # its queued batches are lost with it: only a resume can finish
    job.refresh_from_db()
    pending = dataset.images.filter(status=SourceImage.Status.PENDING).count()
    assert job.status == IndexingJob.Status.RUNNING and pending > 0, "the worker finished before it was killed"

    settings.INDEXING_JOB_STALE_SECONDS = 1

    def marked_stale() -> bool:  # what a periodic `manage.py recover_jobs` does
        call_command("recover_jobs")
        return APIClient().get(f"/api/jobs/{job.pk}").json()["status"] == "stale"

    wait_for(marked_stale, 10, "the job marked stale")

    client = APIClient()
    client.force_authenticate(curator("index_dataset"))
    worker = start_worker()
    response = client.post(f"/api/jobs/{job.pk}/resume")
    assert response.status_code == 202, response.content
    settings.INDEXING_JOB_STALE_SECONDS = 3600  # the resumed job is alive
    wait_for(lambda: IndexingJob.objects.get(pk=job.pk).status == "done", 300, "the resumed job", worker)
    job.refresh_from_db()
    assert (job.processed_images, job.total_images, job.failed_images) == (8, 8, 0)
    assert not dataset.images.exclude(status=SourceImage.Status.DONE).exists()
    # Each photo's crops were stored once: no file named twice.
    files = list(Crop.objects.values_list("file", flat=True))
    assert files and len(files) == len(set(files)) == job.total_crops
    assert client.post(f"/api/jobs/{job.pk}/resume").status_code == 409


# --- Resumed once, sent once -----------------------------------------------------------


@pytest.fixture
def messages(monkeypatch) -> dict[str, list]:
    """The dispatch and batch messages sent to the broker, recorded instead of run."""
    sent: dict[str, list] = {"dispatch": [], "batches": []}
    monkeypatch.setattr(tasks.index_job_task, "delay", lambda job_id, rebuild=True: sent["dispatch"].append(job_id))
    monkeypatch.setattr(
        tasks.process_batch_task, "delay", lambda job_id, ids, rebuild=True: sent["batches"].append(list(ids))
    )
    return sent


def stale_job(photos: int = 3) -> IndexingJob:
    dataset = make_dataset("stalled")
    for seed in range(photos):
        make_image(dataset, seed=seed)
    job, _ = jobs.create_job(dataset)
    IndexingJob.objects.filter(pk=job.pk).update(status=IndexingJob.Status.STALE)
    return job


@pytest.mark.django_db(transaction=True)
def test_two_resumes_at_once_reopen_the_job_once(messages):
    job = stale_job()
    barrier, outcomes = threading.Barrier(2), []

    def resume() -> None:
        try:
            barrier.wait()
            outcomes.append(recovery.resume_job(job=IndexingJob.objects.get(pk=job.pk)).status)
        except recovery.NotResumable:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["queued", "refused"]
    assert messages["dispatch"] == [job.pk]


@pytest.mark.django_db(transaction=True)
def test_a_job_resumed_twice_before_a_worker_took_it_sends_its_photos_once(messages, settings):
    job = stale_job()
    pending = set(job.images.values_list("pk", flat=True))
    recovery.resume_job(job=job)
    # No worker took it in time: marked stale again, and resumed again. Two dispatch messages wait.
    settings.INDEXING_JOB_STALE_SECONDS = 60
    IndexingJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(seconds=61))
    recovery.resume_job(job=job)
    assert messages["dispatch"] == [job.pk, job.pk]
    for job_id in messages["dispatch"]:  # both messages reach workers
        jobs.dispatch_job(job_id=job_id)
    sent = [image_id for batch in messages["batches"] for image_id in batch]
    assert sorted(sent) == sorted(pending)  # every pending photo, once
    assert IndexingJob.objects.get(pk=job.pk).status == IndexingJob.Status.RUNNING
