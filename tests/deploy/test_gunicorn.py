"""docker/gunicorn.conf.py: the settings that keep slow clients from stalling the site, and proof on a real server."""

from __future__ import annotations

import os
import runpy
import secrets
from pathlib import Path

import pytest

from tests import workers
from tests.deploy.servers import GUNICORN_CONFIG, PARTIAL_HEADERS, gunicorn, slow_clients, timed_get

SLOW_CLIENTS = 2
# /healthz answers in milliseconds; a stalled worker would hold it for seconds (12 s was seen).
HEALTHZ_BUDGET_S = 2.0


def config(**env: str) -> dict:
    """The config file's settings with exactly ``env`` as its GUNICORN_* variables."""
    names = {"GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_BIND", *env}
    saved = {name: os.environ.pop(name, None) for name in names}
    os.environ.update(env)
    try:
        return runpy.run_path(str(GUNICORN_CONFIG))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_threaded_workers_with_timeouts_and_request_limits():
    settings = config()
    assert settings["worker_class"] == "gthread" and settings["threads"] >= 4
    assert settings["timeout"] == 120 and 0 < settings["graceful_timeout"] <= settings["timeout"]
    assert 0 < settings["keepalive"] <= 10
    assert settings["limit_request_line"] <= 8190
    assert settings["limit_request_fields"] <= 100 and settings["limit_request_field_size"] <= 8190
    assert settings["worker_tmp_dir"] == "/dev/shm"
    assert settings["bind"] == "0.0.0.0:8000"


def test_workers_threads_and_bind_come_from_the_environment():
    settings = config(GUNICORN_WORKERS="3", GUNICORN_THREADS="5", GUNICORN_BIND="127.0.0.1:9000")
    assert (settings["workers"], settings["threads"], settings["bind"]) == (3, 5, "127.0.0.1:9000")


@pytest.fixture
def site(django_db_setup, django_db_blocker, tmp_path: Path):
    """The real site under gunicorn with the config file: one worker, production settings, the test database."""
    with django_db_blocker.unblock():
        database_url = workers.test_database_url()
    env = {
        # The config file's own defaults for threads and the rest, whatever this shell sets.
        **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_BROKER", "DJANGO_", "GUNICORN_"))},
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "LOG_FORMAT": "plain",
    }
    with gunicorn("visualsearch.wsgi:application", env, tmp_path / "gunicorn.log") as url:
        yield url


def test_slow_clients_holding_partial_headers_do_not_stall_healthz(site: str):
    # A request line and half a header, and then nothing: the headers never end.
    with slow_clients(site, [PARTIAL_HEADERS] * SLOW_CLIENTS):
        status, elapsed = timed_get(site + "/healthz", timeout=HEALTHZ_BUDGET_S * 5)
    assert elapsed < HEALTHZ_BUDGET_S, f"/healthz took {elapsed:.1f} s behind {SLOW_CLIENTS} slow clients"
    assert status in (200, 503)  # answered (503 would only mean a dependency is down)
