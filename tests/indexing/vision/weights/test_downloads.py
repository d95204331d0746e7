"""The reachability check that runs before any download: fast, clear, remembered, proxy-aware."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from indexing.vision.weights import downloads
from indexing.vision.weights.downloads import SourceUnreachable, require_reachable


@pytest.fixture(autouse=True)
def fresh_verdicts(settings) -> Iterator[None]:
    settings.DOWNLOAD_CHECK_TIMEOUT = 2.0
    settings.DOWNLOAD_CHECK_CACHE_SECONDS = 60.0
    downloads.forget_verdicts()
    yield
    downloads.forget_verdicts()


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on return: nothing listens there


def test_an_unreachable_source_fails_at_once_with_the_settings_that_avoid_the_download(monkeypatch):
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    started = time.monotonic()
    with pytest.raises(SourceUnreachable) as caught:
        require_reachable(f"https://127.0.0.1:{closed_port()}/weights.pt", "the detector weights 'yolov5s.pt'")
    assert time.monotonic() - started < 2.0
    message = str(caught.value)
    assert message.startswith("Cannot download the detector weights 'yolov5s.pt': 127.0.0.1:")
    for setting in ("DETECTOR_WEIGHTS", "CLIP_MODEL", "DEMO_IMAGES", "README: 'Offline'"):
        assert setting in message


def test_a_name_that_does_not_resolve_is_reported_as_such(monkeypatch):
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    with pytest.raises(SourceUnreachable, match="name does not resolve|did not resolve"):
        require_reachable("https://models.example.invalid/clip", "the CLIP model 'x'")


def test_a_listening_source_passes(listening_port: int, monkeypatch):
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    require_reachable(f"https://127.0.0.1:{listening_port}/", "anything")


def test_the_verdict_is_remembered_until_forgotten(monkeypatch):
    """A web process without its models must not wait for a timeout on every request."""
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    port = closed_port()
    with pytest.raises(SourceUnreachable):
        require_reachable(f"https://127.0.0.1:{port}/", "x")
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        with pytest.raises(SourceUnreachable):
            require_reachable(f"https://127.0.0.1:{port}/", "x")  # still the remembered answer
        downloads.forget_verdicts()
        require_reachable(f"https://127.0.0.1:{port}/", "x")


def test_behind_a_proxy_the_proxy_is_what_must_answer(listening_port: int, monkeypatch):
    """Proxied deployments reach the hub through HTTPS_PROXY even when its name does not resolve here."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{listening_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    require_reachable("https://models.example.invalid/clip", "the CLIP model 'x'")
