"""Where the database comes from: ``DATABASE_URL``, or an embedded PostgreSQL.

Without ``DATABASE_URL`` the project starts its own PostgreSQL 16 + pgvector
(the ``pgserver`` package) with its data under ``var/``. The server outlives the
process that started it, so the next ``manage.py`` (or a second one running at
the same time) reuses it and the data is kept across runs.

Nothing here runs when the settings are imported: ``database_settings`` only
describes the database. The backend in ``visualsearch/db/`` starts the embedded
server and checks the database on the first connection, so commands that need
no database (``collectstatic`` in the image build, ``check``) never touch one.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
# Django loads ENGINE + ".base": visualsearch/db/base.py.
ENGINE = "visualsearch.db"
# The settings key that marks the embedded server and names its data folder.
EMBEDDED_DATA_DIR_KEY = "EMBEDDED_DATA_DIR"


class DatabaseNotUsable(ImproperlyConfigured, OperationalError):
    """The configured database cannot be used: one sentence that names the setting to fix.

    ImproperlyConfigured because the fix is a setting; also an OperationalError so that
    code handling a database that is down (/healthz, Celery's retries) handles this too.
    """


def database_settings(database_url: str | None, data_dir: Path) -> dict[str, Any]:
    """Return Django's ``DATABASES['default']`` for the configured database; connects to nothing."""
    if database_url:
        config: dict[str, Any] = dict(
            dj_database_url.parse(database_url, engine=ENGINE, conn_max_age=60, conn_health_checks=True)
        )
    else:
        config = {
            "ENGINE": ENGINE,
            "NAME": "postgres",
            "USER": "postgres",
            "PASSWORD": "",
            # pgserver puts the server's Unix socket in the data folder unless that path is too
            # long for a socket; the backend replaces HOST with the real folder on connecting.
            "HOST": str(data_dir),
            "PORT": "",
            "CONN_MAX_AGE": 60,
            EMBEDDED_DATA_DIR_KEY: str(data_dir),
        }
    config["OPTIONS"] = {**config.get("OPTIONS", {}), "connect_timeout": CONNECT_TIMEOUT_S}
    return config


def embedded_connection_params(data_dir: Path) -> dict[str, str]:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir``; return libpq's host (and port)."""
    config = dj_database_url.parse(embedded_database_url(data_dir))
    # The server listens on a Unix socket only, given in its URL as ?host=<dir>.
    params = {"host": config.get("OPTIONS", {}).get("host") or config.get("HOST") or ""}
    if config.get("PORT"):
        params["port"] = str(config["PORT"])
    return params


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
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: leave the server running when this process exits.
        server = pgserver.get_server(data_dir, cleanup_mode=None)
        return server.get_uri()
    except Exception as exc:  # initdb, pg_ctl and permission failures alike: one sentence
        raise DatabaseNotUsable(
            f"The embedded PostgreSQL in {data_dir} could not be started ({first_line(exc)}); "
            f"see {data_dir / 'log'}, or set DATABASE_URL to a PostgreSQL with pgvector."
        ) from exc


def unreachable(settings_dict: dict[str, Any], exc: Exception) -> DatabaseNotUsable:
    """The error for a first connection that failed, naming what to fix."""
    data_dir = settings_dict.get(EMBEDDED_DATA_DIR_KEY)
    if data_dir:
        return DatabaseNotUsable(
            f"The embedded PostgreSQL in {data_dir} cannot be reached ({first_line(exc)}); "
            f"see {Path(data_dir) / 'log'}, or set DATABASE_URL to a PostgreSQL with pgvector."
        )
    return DatabaseNotUsable(
        f"The database named by DATABASE_URL cannot be reached ({first_line(exc)}); "
        "fix DATABASE_URL or unset it to use the embedded PostgreSQL."
    )


def without_pgvector(settings_dict: dict[str, Any]) -> DatabaseNotUsable:
    """The error for a server that has no pgvector to install."""
    data_dir = settings_dict.get(EMBEDDED_DATA_DIR_KEY)
    if data_dir:
        return DatabaseNotUsable(
            f"The embedded PostgreSQL in {data_dir} has no pgvector extension; "
            "reinstall the pgserver package (requirements/base.txt) or set DATABASE_URL."
        )
    return DatabaseNotUsable(
        "The PostgreSQL server named by DATABASE_URL has no pgvector extension; "
        "install pgvector there (or use the pgvector/pgvector image) or unset DATABASE_URL."
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
