"""Duplicate groups grow as a real Celery worker indexes photos; a recompute runs on the worker too."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from indexing.catalog import ingest
from indexing.duplicates import groups as duplicate_groups
from indexing.models import DuplicateGroup, DuplicateMember, IndexingJob, SourceImage
from indexing.pipeline.jobs import enqueue_dataset_indexing
from tests.duplicate_photos import altered
from tests.factories import make_dataset
from tests.indexing.test_tasks import JOB_TIMEOUT_S, job_done
from tests.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("real_models")]


@pytest.fixture
def worker_env(worker_env) -> dict[str, str]:
    # The test CLIP's random vectors mean nothing: exact and perceptual tiers only.
    return {**worker_env, "DEDUP_ON_INGEST": "link", "DEDUP_SEMANTIC_MIN_SCORE": "1.01"}


def index_on_worker(dataset, files: dict[str, bytes], worker) -> IndexingJob:
    for name, data in files.items():
        ingest.ingest_image(dataset, name, data, "train")
    job = enqueue_dataset_indexing(dataset, rebuild_index=False)
    wait_for(lambda: job_done(job), JOB_TIMEOUT_S, "the indexing job", worker)
    return job


def group_names() -> list[set[str]]:
    return [
        set(g.members.values_list("image__original_name", flat=True)) for g in DuplicateGroup.objects.order_by("id")
    ]


def test_groups_grow_as_the_worker_indexes_copies(start_worker, coco_subset_files: list[Path]):
    a, b = coco_subset_files[:2]
    worker = start_worker()
    originals = make_dataset("originals")
    index_on_worker(originals, {"a.jpg": a.read_bytes(), "b.jpg": b.read_bytes()}, worker)
    assert DuplicateGroup.objects.count() == 0

    uploads = make_dataset("uploads")
    job = index_on_worker(uploads, {"a-q60.jpg": altered(a, "jpeg60")}, worker)
    assert group_names() == [{"a.jpg", "a-q60.jpg"}]
    progress = APIClient().get(f"/api/jobs/{job.pk}").json()
    assert progress["duplicates"] == {"duplicates_skipped": 0, "duplicates_linked": 1}

    index_on_worker(uploads, {"a-half.jpg": altered(a, "half"), "b-again.jpg": b.read_bytes()}, worker)
    assert group_names() == [{"a.jpg", "a-q60.jpg", "a-half.jpg"}, {"b.jpg", "b-again.jpg"}]
    exact = DuplicateMember.objects.get(image__original_name="b-again.jpg")
    assert (exact.tier, exact.score) == ("exact", 1.0)


def test_a_recompute_queued_for_the_worker_regroups_a_dataset(start_worker, coco_subset_files: list[Path]):
    a = coco_subset_files[0]
    worker = start_worker()
    dataset = make_dataset()
    index_on_worker(dataset, {"a.jpg": a.read_bytes(), "a-copy.jpg": altered(a, "jpeg60")}, worker)
    DuplicateGroup.objects.all().delete()

    duplicate_groups.queue_recompute(dataset_id=dataset.pk)

    wait_for(lambda: DuplicateGroup.objects.exists(), 60, "the recompute", worker)
    assert group_names() == [{"a.jpg", "a-copy.jpg"}]
    assert SourceImage.objects.filter(dataset=dataset, status="done").count() == 2
