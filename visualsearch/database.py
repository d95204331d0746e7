"""Where the database comes from: ``DATABASE_URL``, or an embedded PostgreSQL.

Without ``DATABASE_URL`` the project starts its own PostgreSQL 16 + pgvector
(the ``pgserver`` package) with its data under ``var/``. The server outlives the
process that started it, so the next ``manage.py`` (or a second one running at
the same time) reuses it and the data is kept across runs.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5


def embedded_database_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir``; return its URL."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); harmless here.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ImproperlyConfigured(
            "DATABASE_URL is not set and the embedded PostgreSQL (package pgserver) "
            "is not installed: install requirements/base.txt or set DATABASE_URL."
        ) from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: leave the server running when this process exits.
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    return server.get_uri()


def check_database(url: str, source: str) -> None:
    """Fail with one sentence naming ``source`` when the database is unusable.

    Checked at start-up so a wrong setting is reported before any request, not
    as a stack trace from the first query.
    """
    import psycopg

    try:
        # libpq reads the URL itself, including a Unix socket given as ?host=/dir.
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImproperlyConfigured(
            f"The database named by {source} cannot be reached ({reason}); "
            f"fix {source} or unset it to use the embedded PostgreSQL."
        ) from None
    if row is None:
        raise ImproperlyConfigured(
            f"The PostgreSQL server named by {source} has no pgvector extension; "
            f"install pgvector there (or use the pgvector/pgvector image) or unset {source}."
        )


def database_settings(database_url: str | None, data_dir: Path, check: bool = True) -> dict[str, Any]:
    """Return Django's ``DATABASES['default']`` for the configured database."""
    if database_url:
        if check:
            check_database(database_url, "DATABASE_URL")
        config = dj_database_url.parse(database_url, conn_max_age=60, conn_health_checks=True)
    else:
        config = dj_database_url.parse(embedded_database_url(data_dir), conn_max_age=60)
        # The embedded server listens on a Unix socket, given as ?host=<dir>: make it
        # the HOST so other processes (workers in tests, psql) can be pointed at it.
        config["HOST"] = config.get("OPTIONS", {}).pop("host", config.get("HOST", ""))
    config["OPTIONS"] = {**config.get("OPTIONS", {}), "connect_timeout": CONNECT_TIMEOUT_S}
    return config
