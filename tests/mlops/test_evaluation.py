"""Evaluate the trained detector with yolov5's val, tracked in MLflow."""

from __future__ import annotations

import pytest
from django.test import override_settings

from indexing.vision.weights.checksums import file_sha256
from indexing.vision.yolov5_env import full_checkpoint_loading
from mlops.evaluation import evaluate_detector
from tests.mlflow_run import Trained, tracking_uri_of

pytestmark = pytest.mark.django_db


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
