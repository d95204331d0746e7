"""Crops record the MLflow weights that found them."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.vision.detector import reset_detector
from indexing.vision.weights.checksums import file_sha256
from tests.mlflow_run import Trained

pytestmark = pytest.mark.django_db


def test_crops_record_the_mlflow_weights_that_found_them(
    trained: Trained, real_models: None, served: Path, settings: object, coco_subset_files: list[Path]
) -> None:
    from indexing.catalog import ingest
    from indexing.models import Crop, Dataset
    from indexing.pipeline import jobs

    uri = f"runs:/{trained.run_id}/weights/best.pt"
    settings.DETECTOR_WEIGHTS = uri
    # The barely trained model's boxes: keep a few, whatever their size.
    settings.DETECTOR_CONFIDENCE = 0.001
    settings.DETECTOR_MAX_DETECTIONS = 3
    settings.DETECTOR_IMAGE_SIZE = 160
    settings.CROP_MIN_SIDE = 1
    settings.CROP_MIN_AREA_FRACTION = 0.0
    settings.CROP_MAX_ASPECT = 100.0
    reset_detector()
    dataset = Dataset.objects.create(name="mlflow-served", version="version_1")
    ingest.ingest_files(dataset, [(coco_subset_files[0], "train")])
    job, ids = jobs.create_job(dataset)
    jobs.run_job(job, ids)
    versions = set(Crop.objects.filter(image__dataset=dataset).values_list("detector_version", flat=True))
    assert versions == {f"{uri}@{file_sha256(trained.best)[:12]}"}
