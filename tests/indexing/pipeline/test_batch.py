"""One bad photo in a batch fails alone, with its reason; its batch-mates are indexed and the job finishes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from indexing.catalog import ingest
from indexing.models import IndexingJob, SourceImage
from indexing.pipeline import jobs
from tests.bad_files import encoded, photo_like, refused_uploads
from tests.factories import make_dataset

BAD = refused_uploads()
# Stored as they are: some predate the ingest check, or came another way than ingest_image.
BAD_CASES = ["5000x1 PNG", "3x4000 PNG", "PPM with a bogus header", "truncated JPEG", "HTML named .jpg"]


def stored(dataset, name: str, data: bytes) -> SourceImage:
    digest = hashlib.sha256(data).hexdigest()
    image = SourceImage(dataset=dataset, sha256=digest, split="train", original_name=name)
    image.file.save(f"{digest}.bin", ContentFile(data), save=True)
    return image


@pytest.fixture
def good(db, coco_subset_files: list[Path]) -> list[Path]:
    return coco_subset_files[:3]


def run(dataset) -> IndexingJob:
    job, ids = jobs.create_job(dataset)
    return jobs.run_job(job, ids, batch_size=len(ids))  # everything in one batch


def test_bad_files_fail_alone_in_a_batch_of_good_photos(good, real_models):
    dataset = make_dataset()
    for path in good:
        ingest.ingest_image(dataset, path.name, path.read_bytes(), "train")
    for case in BAD_CASES:
        stored(dataset, BAD[case].name, BAD[case].data)

    job = run(dataset)

    assert job.status == IndexingJob.Status.DONE
    assert (job.processed_images, job.failed_images) == (len(good) + len(BAD_CASES), len(BAD_CASES))
    done = SourceImage.objects.filter(dataset=dataset, status=SourceImage.Status.DONE)
    assert sorted(done.values_list("original_name", flat=True)) == sorted(p.name for p in good)
    assert all(image.crops.exists() for image in done)
    for case in BAD_CASES:
        failed = SourceImage.objects.get(dataset=dataset, original_name=BAD[case].name)
        assert failed.status == SourceImage.Status.FAILED
        assert BAD[case].message.lower() in failed.error.lower(), (case, failed.error)


def test_a_model_failing_on_one_photo_fails_that_photo_only(good, real_models, monkeypatch):
    from indexing.vision.detector import Detector

    odd_size = (333, 222)
    detect_batch = Detector._detect_batch

    def fails_on_the_odd_photo(self, images):
        if any(image.size == odd_size for image in images):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return detect_batch(self, images)

    monkeypatch.setattr(Detector, "_detect_batch", fails_on_the_odd_photo)
    dataset = make_dataset()
    for path in good:
        ingest.ingest_image(dataset, path.name, path.read_bytes(), "train")
    ingest.ingest_image(dataset, "odd.jpg", encoded(photo_like(*odd_size), "JPEG"), "train")

    job = run(dataset)

    assert job.status == IndexingJob.Status.DONE
    assert (job.processed_images, job.failed_images) == (len(good) + 1, 1)
    odd = SourceImage.objects.get(dataset=dataset, original_name="odd.jpg")
    assert odd.status == SourceImage.Status.FAILED
    assert "RuntimeError: CUDA error" in odd.error
    assert SourceImage.objects.filter(dataset=dataset, status=SourceImage.Status.DONE).count() == len(good)
