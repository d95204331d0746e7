"""One real detector training, tracked in MLflow, shared by the tests that need its run.

Training, evaluation, the MLflow weights cache, the detector and the pipeline are
tested against the same run, in their own test modules; training takes about a
minute, so it happens once per session (fixtures registered in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings
from mlflow import MlflowClient

from indexing.catalog.datasets import extract_coco_subset
from indexing.vision.detector import reset_detector
from mlops.training import TrainConfig, train_detector


@dataclass
class Trained:
    root: Path
    data: Path
    run_id: str
    best: Path
    client: MlflowClient


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, coco128_dir: Path, yolov5n_weights: Path) -> Iterator[Trained]:
    """A real 1-epoch YOLOv5n training (CPU, 160 px) in its own MLflow store, once per test session."""
    root = tmp_path_factory.mktemp("mlops")
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    with override_settings(MLFLOW_TRACKING_URI=uri, MODEL_CACHE_DIR=root / "cache", MLFLOW_EXPERIMENT_ID=""):
        subset = extract_coco_subset(
            coco128_dir / "annotations" / "instances_train2017.json",
            coco128_dir / "images" / "train2017",
            root / "datasets" / "coco_subset" / "version_1",
            split=(0.8, 0.2, 0.0),
            max_images=40,
            register=False,
        )
        config = TrainConfig(
            data=subset.data_yaml,
            weights=str(yolov5n_weights),
            imgsz=160,
            batch_size=16,
            epochs=1,
            project=root / "runs" / "train",
            name="yolov5_coco_subset",
            device="cpu",
            workers=0,
            dataset_version="version_1",
            register="detector-test",
        )
        result = train_detector(config)
    # Outside override_settings: each test points the settings at this store itself.
    yield Trained(root, subset.data_yaml, result.run_id, result.best, MlflowClient(uri, registry_uri=uri))


def tracking_uri_of(trained: Trained) -> str:
    return f"sqlite:///{trained.root / 'mlflow' / 'mlflow.db'}"


@pytest.fixture
def served(trained: Trained, settings: object, tmp_path: Path) -> Iterator[Path]:
    """Settings of a server or worker pointed at the trained run's store, with an empty model cache."""
    settings.MLFLOW_TRACKING_URI = tracking_uri_of(trained)
    settings.MODEL_CACHE_DIR = tmp_path / "cache"
    settings.MLFLOW_RUN_ID = ""
    settings.MLFLOW_EXPERIMENT_ID = ""
    settings.DETECTOR_WEIGHTS_SHA256 = ""
    settings.MODEL_DEVICE = "cpu"
    reset_detector()
    yield tmp_path / "cache"
    reset_detector()
