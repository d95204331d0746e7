"""/healthz: the database, the broker and which model is missing; details for staff only."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings


@pytest.mark.django_db
def test_healthz_reports_database_broker_and_models_to_staff(admin_client):
    body = admin_client.get("/healthz").json()
    assert body["ok"] is True
    assert body["database"]["ok"] is True
    assert body["database"]["pgvector"]
    assert body["broker"]["mode"] in {"eager", "broker"}
    assert body["models"]["clip_model"] == settings.CLIP_MODEL
    assert body["models"]["detector_weights"] == settings.DETECTOR_WEIGHTS


@pytest.fixture
def unreachable_broker(settings):
    """A broker nobody listens on: /healthz then has an exception text to tell (or not)."""
    from visualsearch.celery import app

    saved = app.conf.broker_url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    app._pool = None
    yield
    app.conf.broker_url = saved
    app._pool = None


def test_healthz_tells_anonymous_users_the_status_only(live_server, admin_user, settings, unreachable_broker):
    import requests

    from tests.live import http_session

    weights = str(Path(settings.SHARED_ASSETS_DIR).resolve() / "weights" / "yolov5n.pt")
    settings.DETECTOR_WEIGHTS = weights
    anonymous = requests.get(live_server.url + "/healthz", timeout=60)
    assert anonymous.status_code == 503
    body = anonymous.json()
    assert body.pop("models")["detector"] == {"ok": True}
    assert body == {"ok": False, "database": {"ok": True}, "broker": {"ok": False}}
    assert weights not in anonymous.text and "127.0.0.1:9" not in anonymous.text

    staff = http_session(admin_user).get(live_server.url + "/healthz", timeout=60)
    assert staff.status_code == 503
    assert staff.json()["models"]["detector_weights"] == weights
    assert "127.0.0.1:9" in staff.json()["broker"]["error"]


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_healthz_says_which_model_is_missing_at_once(client, admin_client, settings, tmp_path, monkeypatch):
    """No local weights and a model hub that does not answer: named in /healthz, no load, no wait."""
    import time

    from indexing.vision.weights import downloads

    downloads.forget_verdicts()
    settings.DETECTOR_WEIGHTS = str(tmp_path / "missing" / "best.pt")
    settings.CLIP_MODEL = "openai/clip-vit-base-patch32"
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    monkeypatch.setenv("HF_ENDPOINT", f"https://127.0.0.1:{closed_port()}")
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    started = time.monotonic()
    anonymous = client.get("/healthz").json()["models"]
    staff = admin_client.get("/healthz").json()["models"]
    downloads.forget_verdicts()
    assert time.monotonic() - started < 5
    assert anonymous == {"ok": False, "detector": {"ok": False}, "clip": {"ok": False}}
    assert "DETECTOR_WEIGHTS=" in staff["detector"]["error"] and "does not exist" in staff["detector"]["error"]
    assert staff["clip"]["error"].startswith("Cannot download the CLIP model 'openai/clip-vit-base-patch32'")
    assert "CLIP_MODEL" in staff["clip"]["error"]


@pytest.mark.django_db
def test_healthz_finds_local_models_without_loading_them(admin_client, settings, yolov5n_weights, test_clip_dir):
    from indexing.vision.detector import _detectors

    settings.DETECTOR_WEIGHTS = str(yolov5n_weights)
    settings.CLIP_MODEL = str(test_clip_dir)
    models = admin_client.get("/healthz").json()["models"]
    assert models["ok"] is True and models["detector"] == {"ok": True} and models["clip"] == {"ok": True}
    assert not _detectors.sources()  # nothing was loaded to answer


@pytest.mark.django_db
def test_healthz_knows_an_open_vocabulary_detector_is_a_model_folder(admin_client, settings, test_owlvit_dir):
    from indexing.vision.detector import _detectors

    settings.DETECTOR_WEIGHTS = str(test_owlvit_dir)
    assert admin_client.get("/healthz").json()["models"]["detector"] == {"ok": True}
    assert not _detectors.sources()  # nothing was loaded to answer
