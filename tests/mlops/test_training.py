"""Train, fetch and evaluate YOLOv5n for real (CPU, 1 epoch, 160 px) and read everything back from MLflow."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from mlflow import MlflowClient

from indexing.datasets import extract_coco_subset
from indexing.vision.checksums import WeightsError, file_sha256
from indexing.vision.detector import Detector, get_detector, reset_detector
from indexing.vision.errors import ModelLoadError
from indexing.vision.mlflow_weights import fetch_mlflow_weights, weights_from_env
from indexing.vision.yolov5_env import full_checkpoint_loading
from mlops.evaluation import evaluate_detector
from mlops.tracking import get_or_create_experiment
from mlops.training import (
    TrainConfig,
    TrainingError,
    TrainingTerminated,
    resolve_initial_weights,
    tracked_run,
    train_detector,
)

# Every test here is a database test, so pytest-django (which runs database tests first) keeps
# them together and the module-scoped training below happens once, not once per group.
pytestmark = pytest.mark.django_db


@dataclass
class Trained:
    root: Path
    data: Path
    run_id: str
    best: Path
    client: MlflowClient


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, coco128_dir: Path, yolov5n_weights: Path) -> Iterator[Trained]:
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
        yield Trained(root, subset.data_yaml, result.run_id, result.best, MlflowClient(uri, registry_uri=uri))


def test_training_is_tracked_in_one_finished_run(trained: Trained) -> None:
    run = trained.client.get_run(trained.run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["epochs"] == "1"
    assert params["imgsz"] == "160"
    assert params["batch_size"] == "16"
    assert params["dataset_version"] == "version_1"
    assert float(params["lr0"]) == 0.01 and "momentum" in params

    history = trained.client.get_metric_history(trained.run_id, "train/box_loss")
    assert [m.step for m in history] == [0] and history[0].value > 0
    assert [m.step for m in trained.client.get_metric_history(trained.run_id, "metrics/mAP_0.5-0.95")] == [0]
    # Logged live: the epoch's metrics predate the plots yolov5 writes when training ends.
    results_png = trained.best.parent.parent / "results.png"
    assert history[0].timestamp <= results_png.stat().st_mtime * 1000

    artifacts = {a.path for a in trained.client.list_artifacts(trained.run_id)}
    weights = {a.path for a in trained.client.list_artifacts(trained.run_id, "weights")}
    dataset = {a.path for a in trained.client.list_artifacts(trained.run_id, "dataset")}
    assert {"weights/best.pt", "weights/last.pt"} <= weights
    assert {"confusion_matrix.png", "results.png"} <= artifacts
    assert "dataset/manifest.json" in dataset
    assert run.data.tags["best_sha256"] == file_sha256(trained.best)

    version = trained.client.get_model_version("detector-test", "1")
    assert version.run_id == trained.run_id


def test_weights_are_fetched_once_and_refetched_when_tampered(
    trained: Trained, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    uri = f"runs:/{trained.run_id}/weights/best.pt"
    expected = file_sha256(trained.best)
    with override_settings(MLFLOW_TRACKING_URI=tracking_uri_of(trained), MODEL_CACHE_DIR=tmp_path):
        caplog.set_level(logging.INFO, logger="indexing.vision.mlflow_weights")
        path = fetch_mlflow_weights(uri)
        assert path.is_relative_to(tmp_path / "mlflow") and file_sha256(path) == expected
        assert "downloaded" in caplog.text
        mtime = path.stat().st_mtime_ns

        caplog.clear()
        assert fetch_mlflow_weights(uri) == path
        assert "cached" in caplog.text and "downloaded" not in caplog.text
        assert path.stat().st_mtime_ns == mtime

        caplog.clear()
        assert fetch_mlflow_weights("models:/detector-test/1") == path
        assert "cached" in caplog.text and "downloaded" not in caplog.text

        with open(path, "ab") as f:
            f.write(b"tampered")
        caplog.clear()
        assert fetch_mlflow_weights(uri) == path
        assert "tampered" in caplog.text and "downloaded" in caplog.text
        assert file_sha256(path) == expected


def tracking_uri_of(trained: Trained) -> str:
    return f"sqlite:///{trained.root / 'mlflow' / 'mlflow.db'}"


def test_training_on_missing_data_leaves_the_run_failed(trained: Trained, yolov5n_weights: Path) -> None:
    missing = trained.root / "datasets" / "nope" / "data.yaml"
    with override_settings(MLFLOW_TRACKING_URI=tracking_uri_of(trained), MLFLOW_EXPERIMENT_ID=""):
        config = TrainConfig(data=missing, weights=str(yolov5n_weights), epochs=1, device="cpu", experiment="failing")
        with pytest.raises(TrainingError, match="not found"):
            train_detector(config)
        experiment_id = get_or_create_experiment("failing")
    (run,) = trained.client.search_runs([experiment_id])
    assert run.info.status == "FAILED"
    assert "not found" in run.data.tags["error"]


def test_sigterm_ends_the_run_killed(trained: Trained) -> None:
    with override_settings(MLFLOW_TRACKING_URI=tracking_uri_of(trained), MLFLOW_EXPERIMENT_ID=""):
        experiment_id = get_or_create_experiment("killed")
        run_id = trained.client.create_run(experiment_id).info.run_id
        with pytest.raises(TrainingTerminated), tracked_run(trained.client, run_id):
            os.kill(os.getpid(), signal.SIGTERM)
    assert trained.client.get_run(run_id).info.status == "KILLED"


def test_evaluation_logs_what_yolov5_val_returns(trained: Trained) -> None:
    with override_settings(MLFLOW_TRACKING_URI=tracking_uri_of(trained), MLFLOW_EXPERIMENT_ID=""):
        result = evaluate_detector(
            weights=str(trained.best),
            data=trained.data,
            task="val",
            imgsz=160,
            batch_size=16,
            device="cpu",
            workers=0,
            project=trained.root / "runs" / "eval",
            name="eval",
        )
    run = trained.client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["training_run_id"] == trained.run_id
    assert "confusion_matrix.png" in {a.path for a in trained.client.list_artifacts(result.run_id)}

    import yolov5.val

    with full_checkpoint_loading(trained.best, file_sha256(trained.best)):
        printed, _, map50s, _ = yolov5.val.run(
            data=str(trained.data),
            weights=str(trained.best),
            batch_size=16,
            imgsz=160,
            task="val",
            device="cpu",
            workers=0,
            half=False,
            project=str(trained.root / "runs" / "val"),
            plots=False,
        )
    logged = run.data.metrics
    for name, value in zip(("precision", "recall", "mAP50", "mAP50-95"), printed[:4], strict=True):
        assert logged[name] == pytest.approx(float(value), abs=1e-6)
    assert logged["ap50_person"] == pytest.approx(float(map50s[0]), abs=1e-6)
    assert logged["targets_person"] == result.per_class_targets["person"] > 0


def test_weights_from_env_precedence(trained: Trained, settings: object) -> None:
    settings.MLFLOW_TRACKING_URI = tracking_uri_of(trained)
    settings.DETECTOR_WEIGHTS = "models:/detector-test@production"
    settings.MLFLOW_RUN_ID = trained.run_id
    settings.MLFLOW_EXPERIMENT_ID = ""
    assert weights_from_env() == "models:/detector-test@production"

    settings.DETECTOR_WEIGHTS = "weights/yolov5s.pt"
    assert weights_from_env() == f"runs:/{trained.run_id}/weights/best.pt"
    settings.MLFLOW_EXPERIMENT_ID = trained.client.get_run(trained.run_id).info.experiment_id
    assert weights_from_env() == f"runs:/{trained.run_id}/weights/best.pt"
    settings.MLFLOW_EXPERIMENT_ID = "999"
    with pytest.raises(WeightsError, match="belongs to experiment"):
        weights_from_env()

    settings.MLFLOW_RUN_ID = ""
    assert weights_from_env() == "weights/yolov5s.pt"


def test_unverifiable_checkpoints_are_refused(tmp_path: Path, yolov5n_weights: Path, settings: object) -> None:
    # The serving switch does not reach training: yolov5 unpickles starting weights unchecked.
    settings.DETECTOR_ALLOW_UNVERIFIED_WEIGHTS = True
    assert resolve_initial_weights(str(yolov5n_weights)).sha256 == file_sha256(yolov5n_weights)  # in SHA256SUMS
    official = tmp_path / "official.pt"  # the serving rule: an official file is known by its bytes
    official.write_bytes(yolov5n_weights.read_bytes())
    assert resolve_initial_weights(str(official)).verified
    with pytest.raises(WeightsError, match="expected"):
        resolve_initial_weights(str(official), "0" * 64)
    copy = tmp_path / "yolov5n.pt"
    copy.write_bytes(yolov5n_weights.read_bytes() + b"\0")
    with pytest.raises(WeightsError, match="match no known checksum.*--weights-sha256="):
        resolve_initial_weights(str(copy))
    with pytest.raises(WeightsError, match=r"--weights='\./missing\.pt' does not exist"):
        resolve_initial_weights("./missing.pt")


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


def test_detector_serves_mlflow_weights_downloaded_once(
    trained: Trained, served: Path, coco128_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from PIL import Image

    uri = f"runs:/{trained.run_id}/weights/best.pt"
    best_sha256 = trained.client.get_run(trained.run_id).data.tags["best_sha256"]
    caplog.set_level(logging.INFO, logger="indexing.vision.mlflow_weights")

    # The 1-epoch 160 px model is barely trained: a low threshold still exercises the whole path.
    detector = Detector(weights=uri, confidence=0.001, max_detections=5, image_size=160)
    assert "downloaded" in caplog.text
    assert detector.weights.verified and detector.weights.sha256 == best_sha256
    assert detector.weights.path.is_relative_to(served)
    assert detector.version == f"{uri}@{best_sha256[:12]}"
    # Fine-tuned on the product's 7 classes: every configured label maps by name.
    assert len(detector.model.names) == 7
    assert sorted(detector.classes.values()) == sorted(django_settings.DETECTOR_CLASSES)
    image = Image.open(coco128_dir / "images" / "train2017" / "000000000009.jpg")
    (found,) = detector.detect([image])
    assert 0 < len(found) <= 5
    assert {d.label for d in found} <= set(django_settings.DETECTOR_CLASSES)

    # A second start-up (another worker, a restart) reuses the verified cache.
    mtime = detector.weights.path.stat().st_mtime_ns
    caplog.clear()
    again = Detector(weights=uri, image_size=160)
    assert "cached" in caplog.text and "downloaded" not in caplog.text
    assert again.weights.path.stat().st_mtime_ns == mtime and again.version == detector.version

    # A registry version resolves to the same run: the version names the run, not the moving alias.
    caplog.clear()
    registered = Detector(weights="models:/detector-test/1", image_size=160)
    assert registered.version == detector.version and "downloaded" not in caplog.text
    assert "models:/detector-test/1" in registered.weights.source

    # A tampered cache is detected and fetched again before anything is unpickled.
    with open(detector.weights.path, "ab") as f:
        f.write(b"tampered")
    caplog.clear()
    healed = Detector(weights=uri, image_size=160)
    assert "tampered" in caplog.text and "downloaded" in caplog.text
    assert healed.weights.sha256 == best_sha256 == file_sha256(healed.weights.path)


def test_detector_weights_from_settings(
    trained: Trained, served: Path, settings: object, yolov5n_weights: Path
) -> None:
    uri = f"runs:/{trained.run_id}/weights/best.pt"
    best_sha256 = file_sha256(trained.best)
    settings.DETECTOR_IMAGE_SIZE = 160

    settings.DETECTOR_WEIGHTS = uri
    assert get_detector().version == f"{uri}@{best_sha256[:12]}"

    # MLFLOW_RUN_ID replaces a local DETECTOR_WEIGHTS, whose pinned checksum then does not apply.
    settings.DETECTOR_WEIGHTS = str(yolov5n_weights)
    settings.DETECTOR_WEIGHTS_SHA256 = file_sha256(yolov5n_weights)
    settings.MLFLOW_RUN_ID = trained.run_id
    reset_detector()
    assert get_detector().weights.name == uri and get_detector().weights.verified

    settings.MLFLOW_RUN_ID = ""
    reset_detector()
    assert get_detector().version == f"yolov5n.pt@{file_sha256(yolov5n_weights)[:12]}"

    # A checksum pinned for an MLflow DETECTOR_WEIGHTS must match the run's.
    settings.DETECTOR_WEIGHTS = uri
    settings.DETECTOR_WEIGHTS_SHA256 = "0" * 64
    reset_detector()
    with pytest.raises(ModelLoadError, match="was expected"):
        get_detector()
    settings.DETECTOR_WEIGHTS_SHA256 = best_sha256
    reset_detector()
    assert get_detector().weights.sha256 == best_sha256

    with pytest.raises(ModelLoadError, match="could not be fetched"):
        Detector(weights="runs:/0123456789abcdef0123456789abcdef/weights/best.pt")


def test_crops_record_the_mlflow_weights_that_found_them(
    trained: Trained, real_models: None, served: Path, settings: object, coco_subset_files: list[Path]
) -> None:
    from indexing import ingest, jobs
    from indexing.models import Crop, Dataset

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
