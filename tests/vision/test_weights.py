"""Detector weights are checked before they are unpickled."""

from __future__ import annotations

import logging
import shutil

import pytest

from indexing.vision.detector import Detector
from indexing.vision.errors import ModelLoadError
from indexing.vision.weights import file_sha256, resolve_detector_weights

YOLOV5N_SHA256 = "4f180cf23ba0717ada0badd6c685026d73d48f184d00fc159c2641284b2ac0a3"


@pytest.fixture(autouse=True)
def no_configured_checksum(settings) -> None:
    settings.DETECTOR_WEIGHTS_SHA256 = ""


def test_shared_weights_verify_against_their_sha256sums(yolov5n_weights) -> None:
    weights = resolve_detector_weights(str(yolov5n_weights))
    assert weights.verified and weights.sha256 == YOLOV5N_SHA256
    assert weights.path == yolov5n_weights


def test_tampered_copy_is_refused(tmp_path, yolov5n_weights) -> None:
    copy = tmp_path / "yolov5n.pt"
    shutil.copyfile(yolov5n_weights, copy)
    with copy.open("ab") as handle:
        handle.write(b"\0")
    (tmp_path / "SHA256SUMS").write_text(f"{YOLOV5N_SHA256}  yolov5n.pt\n")
    with pytest.raises(ModelLoadError) as error:
        Detector(copy, device="cpu")
    message = str(error.value)
    assert str(copy) in message and YOLOV5N_SHA256 in message and file_sha256(copy) in message


def test_configured_checksum_wins_over_sha256sums(settings, yolov5n_weights) -> None:
    settings.DETECTOR_WEIGHTS_SHA256 = "0" * 64
    with pytest.raises(ModelLoadError, match="0{64} was expected"):
        resolve_detector_weights(str(yolov5n_weights))
    settings.DETECTOR_WEIGHTS_SHA256 = YOLOV5N_SHA256.upper()
    assert resolve_detector_weights(str(yolov5n_weights)).verified


def test_unverified_file_loads_with_a_warning(tmp_path, yolov5n_weights, caplog) -> None:
    copy = tmp_path / "mine.pt"
    shutil.copyfile(yolov5n_weights, copy)
    with caplog.at_level(logging.INFO, logger="indexing.vision"):
        detector = Detector(copy, device="cpu")
    assert not detector.weights.verified
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no known checksum" in warnings[0].getMessage()
    assert str(copy) in warnings[0].getMessage()
    assert detector.version == f"mine.pt@{YOLOV5N_SHA256[:12]}"
    loaded = [r for r in caplog.records if r.getMessage().startswith("Loaded detector")]
    assert len(loaded) == 1 and "on cpu" in loaded[0].getMessage()


def test_missing_local_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_detector_weights(str(tmp_path / "missing.pt"))


def test_failed_download_names_the_setting(settings, tmp_path, monkeypatch) -> None:
    # Offline, yolov5's own downloader retries curl for minutes; stand in for the network's answer.
    import yolov5.utils.downloads

    def unreachable(file, *args, **kwargs):
        raise ConnectionError("github.com unreachable")

    monkeypatch.setattr(yolov5.utils.downloads, "attempt_download", unreachable)
    settings.MODEL_CACHE_DIR = tmp_path
    with pytest.raises(ModelLoadError, match="could not be downloaded.*set DETECTOR_WEIGHTS to a local .pt file"):
        resolve_detector_weights("yolov5s.pt")
