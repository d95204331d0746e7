"""End to end through a real Celery worker on Redis: index, rerun, bad image, crash."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from indexing.ann import builds
from indexing.catalog.ingest import dataset_image_files, ingest_files
from indexing.models import Crop, IndexBuild, IndexingJob, SourceImage
from indexing.pipeline.jobs import enqueue_dataset_indexing
from indexing.vision.crops import CropPolicy, plan_crops
from indexing.vision.detector import get_detector
from indexing.vision.images import load_image
from tests.factories import make_dataset
from tests.workers import wait_for

JOB_TIMEOUT_S = 300

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("real_models")]


def expected_crops(files: list[Path]) -> dict[str, Counter]:
    """Crop labels per file name, from the detector and crop policy called directly, one image at a time."""
    detector, policy = get_detector(), CropPolicy.from_settings()
    expected = {}
    for path in files:
        image = load_image(path.read_bytes())
        crops = plan_crops(image, detector.detect([image])[0], policy)
        expected[path.name] = Counter(crop.label for crop in crops)
    return expected


def stored_crops() -> dict[str, Counter]:
    stored: dict[str, Counter] = {}
    for name, label in Crop.objects.values_list("image__original_name", "label"):
        stored.setdefault(name, Counter())[label] += 1
    return stored


def job_done(job: IndexingJob) -> bool:
    job.refresh_from_db()
    assert job.status != IndexingJob.Status.FAILED, job.error
    return job.status == IndexingJob.Status.DONE


def ingest(folder: Path):
    dataset = make_dataset("photos")
    files = dataset_image_files(folder)
    ingest_files(dataset, files)
    return dataset, [path for path, _ in files]


def test_worker_indexes_a_dataset_and_a_rerun_adds_nothing(dataset_folder, start_worker):
    dataset, files = ingest(dataset_folder)
    worker = start_worker()
    job = enqueue_dataset_indexing(dataset)
    wait_for(lambda: job_done(job), JOB_TIMEOUT_S, "the indexing job", worker)

    assert job.processed_images == job.total_images == len(files)
    assert job.failed_images == 0
    assert SourceImage.objects.filter(status=SourceImage.Status.DONE).count() == len(files)
    expected = expected_crops(files)
    assert stored_crops() == {name: labels for name, labels in expected.items() if labels}
    assert job.total_crops == Crop.objects.count() > 0
    per_class = sum(expected.values(), Counter())
    print("crops per class:", dict(per_class))
    assert set(per_class) <= set(settings.DETECTOR_CLASSES)
    # Finishing the job publishes a FAISS build over every crop.
    wait_for(lambda: IndexBuild.objects.filter(status="ready").exists(), 120, "the index build", worker)
    build = IndexBuild.objects.get(status="ready")
    assert build.size == Crop.objects.count()
    # Web processes read what the worker wrote, from the private index folder (INDEX_ROOT).
    assert builds.load_build(build).ntotal == build.size

    crops_before = Crop.objects.count()
    rerun = enqueue_dataset_indexing(dataset)
    wait_for(lambda: job_done(rerun), JOB_TIMEOUT_S, "the rerun", worker)
    assert rerun.total_images == 0
    assert Crop.objects.count() == crops_before
    assert SourceImage.objects.count() == len(files)


def test_a_corrupt_image_fails_alone(dataset_folder, start_worker):
    # A real photo cut in half: its header is fine, so it is stored; decoding it fails.
    whole = sorted(dataset_folder.iterdir())[0].read_bytes()
    (dataset_folder / "zz_corrupt.jpg").write_bytes(whole[: len(whole) // 2])
    dataset, files = ingest(dataset_folder)
    worker = start_worker()
    job = enqueue_dataset_indexing(dataset, rebuild_index=False)
    wait_for(lambda: job_done(job), JOB_TIMEOUT_S, "the indexing job", worker)

    corrupt = SourceImage.objects.get(original_name="zz_corrupt.jpg")
    assert corrupt.status == SourceImage.Status.FAILED
    assert "zz_corrupt.jpg" in corrupt.error or "corrupt" in corrupt.error or "not an image" in corrupt.error
    assert not corrupt.crops.exists()
    assert job.failed_images == 1
    assert job.processed_images == job.total_images == len(files)
    good = SourceImage.objects.exclude(pk=corrupt.pk)
    assert set(good.values_list("status", flat=True)) == {SourceImage.Status.DONE}


def test_a_killed_worker_resumes_without_duplicates(dataset_folder, start_worker, worker_env):
    from django.db import transaction

    worker_env["INDEXING_BATCH_SIZE"] = "2"  # several batches: the worker dies between two of them
    dataset, files = ingest(dataset_folder)
    job = enqueue_dataset_indexing(dataset, rebuild_index=False)
    ids = list(SourceImage.objects.order_by("id").values_list("pk", flat=True))
    first, others = ids[:2], ids[2:]
    # A batch's images are stored in one transaction, under their row locks. Holding the locks
    # of every image but the first batch's parks the worker right after committing that batch,
    # in the middle of its job, however fast the machine: it is killed there, with work half done.
    with transaction.atomic():
        list(SourceImage.objects.select_for_update().filter(pk__in=others).values_list("pk", flat=True))
        worker = start_worker()
        # Each poll is its own statement, so it sees what the worker commits (READ COMMITTED).
        wait_for(
            lambda: SourceImage.objects.filter(pk__in=first, status="done").count() == len(first),
            JOB_TIMEOUT_S,
            "the first batch",
            worker,
        )
        worker.kill()
    assert list(SourceImage.objects.filter(status=SourceImage.Status.DONE).values_list("pk", flat=True)) == first
    crops_at_crash = set(Crop.objects.values_list("pk", flat=True))

    restarted = start_worker()
    wait_for(lambda: job_done(job), JOB_TIMEOUT_S, "the job after restart", restarted)

    assert SourceImage.objects.filter(status=SourceImage.Status.DONE).count() == len(files)
    assert job.processed_images == job.total_images == len(files)
    expected = expected_crops(files)
    assert stored_crops() == {name: labels for name, labels in expected.items() if labels}
    # The images done before the crash kept their crops: the redelivered batch skipped them.
    assert set(Crop.objects.filter(image_id__in=first).values_list("pk", flat=True)) == crops_at_crash
    # Exactly once: no two crops of an image share a box.
    boxes = Crop.objects.values_list("image_id", "x1", "y1", "x2", "y2")
    assert len(set(boxes)) == len(boxes)
