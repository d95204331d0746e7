"""Deleting a dataset: rows, files and index vectors all go; the others stay searchable; a stopped delete resumes."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from rest_framework.test import APIClient

from indexing.ann import builds
from indexing.ann import faiss_index as ann
from indexing.catalog import deletion
from indexing.catalog.consistency import check_consistency, index_ids
from indexing.models import Crop, Dataset, IndexingJob, SourceImage
from tests.factories import make_dataset, make_image
from tests.indexing.catalog.conftest import searched_datasets, stored_under

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_storage")]


def test_deleting_a_dataset_removes_its_rows_files_and_index_ids_and_keeps_the_others(
    two_datasets, django_capture_on_commit_callbacks
):
    kept, doomed = two_datasets
    doomed_crops = list(Crop.objects.filter(image__dataset=doomed).values_list("pk", flat=True))
    kept_crops = list(Crop.objects.filter(image__dataset=kept).values_list("pk", flat=True))
    assert stored_under(doomed.pk) and doomed_crops

    with django_capture_on_commit_callbacks(execute=True):  # files go once the rows' deletion commits
        deleted = deletion.run_deletion(dataset_id=doomed.pk, batch_size=2)

    assert deleted == 5
    assert not Dataset.objects.filter(pk=doomed.pk).exists()
    assert not SourceImage.objects.filter(dataset_id=doomed.pk).exists()
    assert not Crop.objects.filter(pk__in=doomed_crops).exists()
    assert stored_under(doomed.pk) == []
    served = builds.latest_ready_build()
    ids = set(index_ids(builds.load_build(served)).tolist())
    assert ids == set(kept_crops)
    # The kept dataset answers as before: each of its crops is its own nearest neighbour.
    index = builds.load_build(served)
    for crop in Crop.objects.filter(pk__in=kept_crops):
        _, found = ann.search(index, np.asarray(crop.embedding, dtype=np.float32), 1)
        assert found[0][0] == crop.pk
    assert stored_under(kept.pk) and check_consistency().ok


def test_a_deletion_stopped_halfway_hides_the_dataset_and_finishes_when_resumed(
    two_datasets, monkeypatch, django_capture_on_commit_callbacks
):
    kept, doomed = two_datasets
    calls = []
    real_delete_images = deletion.delete_images

    def crash_after_first_batch(ids):
        if calls:
            raise KeyboardInterrupt("killed")
        calls.append(ids)
        real_delete_images(ids)

    monkeypatch.setattr(deletion, "delete_images", crash_after_first_batch)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(KeyboardInterrupt):
        deletion.run_deletion(dataset_id=doomed.pk, batch_size=2)
    doomed.refresh_from_db()
    assert doomed.status == Dataset.Status.DELETING and doomed.deletion_total == 5
    assert doomed.images.count() == 3
    # Hidden from search at once, while its rows and vectors are still there.
    assert searched_datasets(kept) == {str(kept)}
    # What was deleted left no row pointing at a missing file.
    assert check_consistency().rows_without_files == []

    monkeypatch.setattr(deletion, "delete_images", real_delete_images)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("delete_dataset", "--resume")
    assert not Dataset.objects.filter(pk=doomed.pk).exists()
    assert stored_under(doomed.pk) == []
    assert check_consistency().ok


def test_a_large_dataset_is_deleted_by_a_job_and_its_running_indexing_job_is_stopped(
    two_datasets, settings, django_capture_on_commit_callbacks
):
    kept, doomed = two_datasets
    job = IndexingJob.objects.create(dataset=doomed, status=IndexingJob.Status.RUNNING, total_images=1)
    pending = make_image(doomed, seed=999)
    settings.DATASET_DELETE_INLINE_MAX = 2
    with django_capture_on_commit_callbacks() as callbacks:
        assert deletion.request_deletion(dataset=doomed) is False
    # Until the task runs: hidden from search, indexing stopped, the photos still there.
    doomed.refresh_from_db()
    assert doomed.status == Dataset.Status.DELETING and doomed.deletion_total == 6
    assert searched_datasets(kept) == {str(kept)}
    pending.refresh_from_db()
    assert pending.status == SourceImage.Status.FAILED and pending.error == deletion.DELETED_REASON
    assert IndexingJob.objects.get(pk=job.pk).status == IndexingJob.Status.FAILED
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=True):  # the task's own commits delete the files
        callbacks[0]()  # sends delete_dataset_task (eager in the tests: it runs here, as a worker would)
    assert not Dataset.objects.filter(pk=doomed.pk).exists()
    assert not IndexingJob.objects.filter(pk=job.pk).exists()
    assert stored_under(doomed.pk) == [] and check_consistency().ok


def test_the_api_deletes_with_the_delete_permission_only(two_datasets, django_capture_on_commit_callbacks):
    kept, doomed = two_datasets
    client = APIClient()
    user = User.objects.create_user("curator", password="x" * 12, is_staff=True)
    client.force_authenticate(user)
    assert client.delete(f"/api/datasets/{doomed.pk}").status_code == 403
    assert Dataset.objects.filter(pk=doomed.pk).exists()
    user.user_permissions.add(Permission.objects.get(codename="delete_dataset"))
    user = User.objects.get(pk=user.pk)
    client.force_authenticate(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/datasets/{doomed.pk}")
    assert response.status_code == 200, response.content
    assert response.json() == {"id": doomed.pk, "status": "deleted"}
    assert not Dataset.objects.filter(pk=doomed.pk).exists() and stored_under(doomed.pk) == []
    assert client.delete(f"/api/datasets/{doomed.pk}").status_code == 404


@pytest.fixture
def worker_env(worker_env, settings):
    """The worker writes where this test's own_storage points (not the session's shared folders)."""
    return {**worker_env, "MEDIA_ROOT": str(settings.MEDIA_ROOT), "INDEX_ROOT": str(settings.INDEX_ROOT)}


def indexed_by_worker(names: list[str], files, worker) -> list[Dataset]:
    from indexing.catalog.ingest import ingest_files
    from indexing.pipeline.jobs import enqueue_dataset_indexing
    from tests.workers import wait_for

    datasets = []
    for name, chunk in zip(names, files, strict=True):
        dataset = make_dataset(name)
        ingest_files(dataset, [(path, "") for path in chunk])
        job = enqueue_dataset_indexing(dataset)
        wait_for(lambda job=job: IndexingJob.objects.get(pk=job.pk).status == "done", 300, f"indexing {name}", worker)
        datasets.append(dataset)
    wait_for(builds.index_is_current, 120, "an index build over every crop", worker)
    return datasets


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("real_models")
def test_end_to_end_a_worker_deletes_a_dataset_and_the_collection_stays_consistent(
    start_worker, coco_subset_files, settings
):
    """Index two datasets on a worker, delete one through the API as a queued job; check_consistency exits 0."""
    from search.query import services
    from search.query.index_cache import index_holder
    from tests.workers import wait_for

    worker = start_worker()
    kept, doomed = indexed_by_worker(["kept", "doomed"], [coco_subset_files[:3], coco_subset_files[3:6]], worker)
    doomed_crops = set(Crop.objects.filter(image__dataset=doomed).values_list("pk", flat=True))
    assert doomed_crops and Crop.objects.filter(image__dataset=kept).exists()
    served_before = builds.latest_ready_build().pk

    settings.DATASET_DELETE_INLINE_MAX = 0  # every dataset is "large": deleted by a job on the worker
    user = User.objects.create_user("deleter", password="x" * 12, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="delete_dataset"))
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    response = client.delete(f"/api/datasets/{doomed.pk}")
    assert response.status_code == 202 and response.json()["status"] == "deleting"

    wait_for(lambda: not Dataset.objects.filter(pk=doomed.pk).exists(), 120, "the deletion job", worker)
    wait_for(lambda: builds.latest_ready_build().pk != served_before, 120, "the index without its vectors", worker)
    assert not SourceImage.objects.filter(dataset_id=doomed.pk).exists()
    assert not Crop.objects.filter(pk__in=doomed_crops).exists()
    assert stored_under(doomed.pk) == []
    ids = set(index_ids(builds.load_build(builds.latest_ready_build())).tolist())
    assert ids == set(Crop.objects.values_list("pk", flat=True)) and not ids & doomed_crops

    settings.SEARCH_INDEX_CHECK_SECONDS = 0
    index_holder.reset()
    results = services.search_text("a photo of a person", k=50)
    assert results and {r.dataset for r in results} == {str(kept)}

    # What CI asks of every end-to-end run: nothing left over, nothing missing.
    call_command("check_consistency")  # raises SystemExit(1) when anything is wrong
