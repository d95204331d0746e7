"""Train YOLOv5n for real (CPU, 1 epoch, 160 px) and read the run back from MLflow."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from django.test import override_settings

from indexing.vision.weights.checksums import WeightsError, file_sha256
from mlops.tracking import get_or_create_experiment
from mlops.training import (
    TrainConfig,
    TrainingError,
    TrainingTerminated,
    resolve_initial_weights,
    tracked_run,
    train_detector,
)
from tests.mlflow_run import Trained, tracking_uri_of

pytestmark = pytest.mark.django_db


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
