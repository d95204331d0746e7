"""Detector weights are checked before they are unpickled."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from indexing.vision.detector import Detector
from indexing.vision.errors import ModelLoadError
from indexing.vision.weights.checksums import file_sha256
from indexing.vision.weights.resolve import resolve_detector_weights

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


@pytest.fixture(scope="module")
def own_checkpoint(tmp_path_factory, yolov5n_weights) -> Path:
    """A checkpoint no checksum knows: yolov5n saved again (other bytes, same model), as after training."""
    import torch
    import yolov5.models.yolo  # noqa: F401 - makes the pickled classes importable

    path = tmp_path_factory.mktemp("own") / "mine.pt"
    torch.save(torch.load(yolov5n_weights, map_location="cpu", weights_only=False), path)
    return path


def test_an_official_file_under_another_name_is_known_without_sha256sums(tmp_path, yolov5n_weights) -> None:
    copy = tmp_path / "detector.pt"
    shutil.copyfile(yolov5n_weights, copy)
    assert resolve_detector_weights(str(copy)).verified


def test_unverified_file_is_refused_with_how_to_pin_it(own_checkpoint) -> None:
    with pytest.raises(ModelLoadError) as error:
        Detector(own_checkpoint, device="cpu")
    message, sha256 = str(error.value), file_sha256(own_checkpoint)
    assert str(own_checkpoint) in message and "match no known checksum" in message
    assert f"DETECTOR_WEIGHTS_SHA256={sha256}" in message and "DETECTOR_ALLOW_UNVERIFIED_WEIGHTS=true" in message


def test_unverified_file_loads_with_a_warning_when_allowed(settings, own_checkpoint, caplog) -> None:
    settings.DETECTOR_ALLOW_UNVERIFIED_WEIGHTS = True
    with caplog.at_level(logging.INFO, logger="indexing.vision"):
        detector = Detector(own_checkpoint, device="cpu")
    assert not detector.weights.verified
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no known checksum" in warnings[0].getMessage()
    assert str(own_checkpoint) in warnings[0].getMessage()
    assert detector.version == f"mine.pt@{file_sha256(own_checkpoint)[:12]}"
    loaded = [r for r in caplog.records if r.getMessage().startswith("Loaded detector")]
    assert len(loaded) == 1 and "on cpu" in loaded[0].getMessage()


def test_a_pinned_own_file_loads_without_the_flag(settings, own_checkpoint) -> None:
    settings.DETECTOR_WEIGHTS_SHA256 = file_sha256(own_checkpoint)
    assert resolve_detector_weights(str(own_checkpoint)).verified


def test_missing_local_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_detector_weights(str(tmp_path / "missing.pt"))


def test_failed_download_names_the_setting(settings, tmp_path, monkeypatch) -> None:
    # Stand in for the network's answer: the host answers, the download itself fails.
    import indexing.vision.weights.official
    import indexing.vision.weights.resolve

    def unreachable(url, dest, *args, **kwargs):
        raise ConnectionError("github.com unreachable")

    monkeypatch.setattr(indexing.vision.weights.resolve, "require_reachable", lambda *args: None)
    monkeypatch.setattr(indexing.vision.weights.official, "stream_to_file", unreachable)
    settings.MODEL_CACHE_DIR = tmp_path
    with pytest.raises(ModelLoadError, match="could not be downloaded.*set DETECTOR_WEIGHTS to a local .pt file"):
        resolve_detector_weights("yolov5s.pt")


def test_an_mlflow_server_that_does_not_answer_fails_at_once(settings, monkeypatch):
    """The MLflow client retries for minutes; weights from a dead server fail in seconds, say so, and /healthz too."""
    import socket
    import time

    from indexing.vision.availability import detector_problem
    from indexing.vision.weights import downloads
    from indexing.vision.weights.downloads import SourceUnreachable

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once it is closed
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    settings.MLFLOW_TRACKING_URI = f"http://127.0.0.1:{port}"
    settings.DETECTOR_WEIGHTS = "runs:/0123456789abcdef0123456789abcdef/weights/best.pt"
    downloads.forget_verdicts()
    started = time.monotonic()
    with pytest.raises(SourceUnreachable, match=rf"127\.0\.0\.1:{port} is unreachable.*DETECTOR_WEIGHTS"):
        resolve_detector_weights(settings.DETECTOR_WEIGHTS)
    assert detector_problem().startswith("Cannot download the detector weights 'runs:/")
    downloads.forget_verdicts()
    assert time.monotonic() - started < 5
