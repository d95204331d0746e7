"""/healthz, and the one-sentence start-up errors for a bad database setting."""

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
def test_healthz_reports_database_broker_and_models(client):
    body = client.get("/healthz").json()
    assert body["ok"] is True
    assert body["database"]["ok"] is True
    assert body["database"]["pgvector"]
    assert body["broker"]["mode"] in {"eager", "broker"}
    assert body["models"]["clip_model"] == settings.CLIP_MODEL
    assert body["models"]["detector_weights"] == settings.DETECTOR_WEIGHTS


def manage_check(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


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
    result = manage_check("postgresql://postgres@127.0.0.1:9/visualsearch")
    assert result.returncode != 0
    assert "The database named by DATABASE_URL cannot be reached" in last_line(result)


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
