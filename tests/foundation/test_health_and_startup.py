"""/healthz, and the one-sentence errors for a bad database setting on the first connection.

Importing the settings connects to nothing; the first connection (here `manage.py check
--database default`, which connects; `migrate` does too) starts the embedded server or
checks DATABASE_URL, and a database that cannot be used stops the command in one sentence.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# The machine's system PostgreSQL has no pgvector: the natural "wrong server".
PG_WITHOUT_VECTOR_URL = os.environ.get("PG_WITHOUT_VECTOR_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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

    from indexing.vision import downloads

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
    from indexing.vision.detector import _detector

    settings.DETECTOR_WEIGHTS = str(yolov5n_weights)
    settings.CLIP_MODEL = str(test_clip_dir)
    models = admin_client.get("/healthz").json()["models"]
    assert models["ok"] is True and models["detector"] == {"ok": True} and models["clip"] == {"ok": True}
    assert _detector._instance is None  # nothing was loaded to answer


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage_check(database_url: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --database default`: the database checks connect, plain `check` does not."""
    return manage("check", "--database", "default", DATABASE_URL=database_url)


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.django_db
def test_missing_database_fails_at_startup_naming_the_setting():
    params = connection.get_connection_params()
    host = params.get("host", "")
    url = f"postgresql://{params.get('user', 'postgres')}@/visualsearch_no_such_db?host={host}"
    result = manage_check(url)
    assert result.returncode != 0
    assert "DATABASE_URL" in last_line(result)
    assert "cannot be reached" in last_line(result)
    assert "does not exist" in last_line(result)


def test_unreachable_database_fails_at_startup_naming_the_setting():
    url = "postgresql://postgres@127.0.0.1:9/visualsearch"
    # Settings alone never connect: commands that need no database run without one.
    assert manage("check", DATABASE_URL=url).returncode == 0
    result = manage_check(url)
    assert result.returncode != 0
    assert "The database named by DATABASE_URL cannot be reached" in last_line(result)


def test_embedded_database_starts_on_first_connection_not_on_import(tmp_path):
    env = {"DATABASE_URL": "", "VISUALSEARCH_VAR_DIR": str(tmp_path / "var")}
    pgdata = tmp_path / "var" / "pgdata"
    checked = manage("check", **env)
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert not pgdata.exists(), "importing the settings started the embedded PostgreSQL"
    try:
        connected = manage("check", "--database", "default", **env)
        assert connected.returncode == 0, connected.stderr[-3000:]
        server_pid = (pgdata / "postmaster.pid").read_text().splitlines()[0]
        # The server outlives that command; the next one reuses it rather than starting another.
        url = manage("embedded_db", "url", **env)
        assert url.returncode == 0 and url.stdout.startswith("postgresql://"), url.stderr[-3000:]
        assert (pgdata / "postmaster.pid").read_text().splitlines()[0] == server_pid
    finally:
        if pgdata.exists():
            manage("embedded_db", "stop", **env)


def test_postgres_without_pgvector_fails_at_startup_naming_the_setting():
    import psycopg

    try:
        with psycopg.connect(PG_WITHOUT_VECTOR_URL, connect_timeout=3) as conn:
            has_vector = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name='vector'").fetchone()
    except psycopg.OperationalError as exc:
        pytest.fail(f"This test needs a PostgreSQL without pgvector at PG_WITHOUT_VECTOR_URL: {exc}")
    assert has_vector is None, "PG_WITHOUT_VECTOR_URL must name a server without pgvector"
    result = manage_check(PG_WITHOUT_VECTOR_URL)
    assert result.returncode != 0
    assert "has no pgvector extension" in last_line(result)
    assert "DATABASE_URL" in last_line(result)
