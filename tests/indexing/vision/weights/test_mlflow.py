"""Detector weights from MLflow: fetched once, verified, fetched again when tampered; which spec applies."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.test import override_settings

from indexing.vision.weights.checksums import WeightsError, file_sha256
from indexing.vision.weights.mlflow import fetch_mlflow_weights, weights_from_env
from tests.mlflow_run import Trained, tracking_uri_of

pytestmark = pytest.mark.django_db


def test_weights_are_fetched_once_and_refetched_when_tampered(
    trained: Trained, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    uri = f"runs:/{trained.run_id}/weights/best.pt"
    expected = file_sha256(trained.best)
    with override_settings(MLFLOW_TRACKING_URI=tracking_uri_of(trained), MODEL_CACHE_DIR=tmp_path):
        caplog.set_level(logging.INFO, logger="indexing.vision.weights.mlflow")
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
