"""The detector serving weights from an MLflow run or registry version."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from indexing.vision.detector import Detector, get_detector, reset_detector
from indexing.vision.errors import ModelLoadError
from indexing.vision.weights.checksums import file_sha256
from tests.mlflow_run import Trained

pytestmark = pytest.mark.django_db


def test_detector_serves_mlflow_weights_downloaded_once(
    trained: Trained, served: Path, coco128_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from PIL import Image

    uri = f"runs:/{trained.run_id}/weights/best.pt"
    best_sha256 = trained.client.get_run(trained.run_id).data.tags["best_sha256"]
    caplog.set_level(logging.INFO, logger="indexing.vision.weights.mlflow")

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
