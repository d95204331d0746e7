"""Official checkpoints are downloaded from one release URL and kept only with their official sha256.

No network: the release download is stood in for by a function that writes bytes of our choosing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import indexing.vision.weights.official as official
import indexing.vision.weights.resolve as weights
from indexing.vision.errors import ModelLoadError
from indexing.vision.weights.checksums import OFFICIAL_SHA256, file_sha256
from indexing.vision.weights.official import RELEASE_URL
from indexing.vision.weights.resolve import resolve_detector_weights
from mlops.training import resolve_initial_weights


@pytest.fixture(autouse=True)
def isolated_cache(settings, tmp_path, monkeypatch) -> Path:
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    settings.DETECTOR_WEIGHTS_SHA256 = ""
    settings.DETECTOR_ALLOW_UNVERIFIED_WEIGHTS = False
    monkeypatch.setattr(weights, "require_reachable", lambda *args: None)  # the host "answers"
    return tmp_path / "models" / "yolov5"


def serve(monkeypatch, body: bytes) -> list[str]:
    """Answer release downloads with ``body``; returns the URLs asked for."""
    asked: list[str] = []

    def fetch(url: str, dest: Path, **options) -> str:
        asked.append(url)
        dest.write_bytes(body)
        return hashlib.sha256(body).hexdigest()

    monkeypatch.setattr(official, "stream_to_file", fetch)
    return asked


def test_the_shipped_yolov5n_checksum_is_the_official_file(yolov5n_weights) -> None:
    assert OFFICIAL_SHA256["yolov5n.pt"] == file_sha256(yolov5n_weights)
    assert set(OFFICIAL_SHA256) == {f"yolov5{size}.pt" for size in "nsmlx"}


def test_an_official_name_downloads_from_the_release_and_verifies(monkeypatch, isolated_cache, yolov5n_weights):
    asked = serve(monkeypatch, yolov5n_weights.read_bytes())
    resolved = resolve_detector_weights("yolov5n.pt")
    assert asked == [RELEASE_URL + "yolov5n.pt"] and RELEASE_URL.startswith("https://")
    assert resolved.verified and resolved.path == isolated_cache / "yolov5n.pt"


def test_a_download_that_is_not_the_official_file_is_refused_and_not_kept(monkeypatch, isolated_cache):
    serve(monkeypatch, b"PK\x03\x04 a pickle that would run code")
    with pytest.raises(ModelLoadError, match=f"not the official {OFFICIAL_SHA256['yolov5s.pt']}"):
        resolve_detector_weights("yolov5s.pt")
    assert not isolated_cache.exists() or list(isolated_cache.iterdir()) == []


def test_a_tampered_cached_official_file_is_refused(monkeypatch, isolated_cache, yolov5n_weights):
    isolated_cache.mkdir(parents=True)
    (isolated_cache / "yolov5n.pt").write_bytes(yolov5n_weights.read_bytes() + b"\0")
    asked = serve(monkeypatch, yolov5n_weights.read_bytes())
    with pytest.raises(ModelLoadError, match=f"{OFFICIAL_SHA256['yolov5n.pt']} was expected"):
        resolve_detector_weights("yolov5n.pt")
    assert asked == []  # the cached file was checked, not trusted and not silently replaced


def test_a_name_with_no_known_checksum_is_not_downloaded_unless_allowed(settings, monkeypatch, yolov5n_weights):
    asked = serve(monkeypatch, yolov5n_weights.read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match="no known checksum.*DETECTOR_ALLOW_UNVERIFIED_WEIGHTS"):
        resolve_detector_weights("yolov5s6.pt")
    assert asked == []
    settings.DETECTOR_ALLOW_UNVERIFIED_WEIGHTS = True
    resolved = resolve_detector_weights("yolov5s6.pt")
    assert asked == [RELEASE_URL + "yolov5s6.pt"] and not resolved.verified


def test_training_downloads_official_weights_into_the_detectors_cache(monkeypatch, isolated_cache, yolov5n_weights):
    asked = serve(monkeypatch, yolov5n_weights.read_bytes())
    trained_from = resolve_initial_weights("yolov5n.pt")
    assert asked == [RELEASE_URL + "yolov5n.pt"] and trained_from.verified
    assert trained_from.path == isolated_cache / "yolov5n.pt"
    served = resolve_detector_weights("yolov5n.pt")
    assert served.path == trained_from.path and len(asked) == 1  # one cache: not downloaded again


def test_training_never_downloads_a_name_with_no_known_checksum(settings, monkeypatch, yolov5n_weights):
    asked = serve(monkeypatch, yolov5n_weights.read_bytes() + b"\0")
    settings.DETECTOR_ALLOW_UNVERIFIED_WEIGHTS = True  # the detector's switch, not training's
    with pytest.raises(ModelLoadError, match="no known checksum"):
        resolve_initial_weights("yolov5s6.pt")
    assert asked == []
