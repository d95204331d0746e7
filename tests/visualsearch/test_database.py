"""Where the database comes from, and the one-sentence errors when it is unusable (on first connection)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# The machine's system PostgreSQL has no pgvector: the natural "wrong server".
PG_WITHOUT_VECTOR_URL = os.environ.get("PG_WITHOUT_VECTOR_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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
