"""Django's PostgreSQL backend, plus what used to happen when the settings were imported.

- Without DATABASE_URL, the embedded PostgreSQL is started (or reused) on the first
  connection, not at import: commands that need no database never start one.
- The first connection a process makes to a database is checked: a server that cannot
  be reached, or that has no pgvector, stops the command with one sentence naming the
  setting to fix (visualsearch.database.DatabaseNotUsable) instead of a traceback from
  the first query. Later connections are not checked again; their errors are the
  ordinary ones, which Celery retries and /healthz reports.
- ``manage.py check --database default`` (and migrate's checks) connect, so the
  sentence shows up there before anything is served.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from django.core.checks import CheckMessage
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.base.validation import BaseDatabaseValidation
from django.db.backends.postgresql import base as postgresql

from visualsearch.database import EMBEDDED_DATA_DIR_KEY, embedded_connection_params, unreachable, without_pgvector

# Databases (host, port, name, user) this process has already connected to and checked.
_checked: set[tuple[Any, ...]] = set()
_checked_lock = threading.Lock()


class DatabaseValidation(BaseDatabaseValidation):
    def check(self, **kwargs: Any) -> list[CheckMessage]:
        # Connecting here is what makes `check --database default` report a wrong setting.
        self.connection.ensure_connection()
        return super().check(**kwargs)


class DatabaseWrapper(postgresql.DatabaseWrapper):
    validation_class = DatabaseValidation

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        data_dir = self.settings_dict.get(EMBEDDED_DATA_DIR_KEY)
        if data_dir:
            params.update(embedded_connection_params(Path(data_dir)))
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        key = tuple(conn_params.get(name) for name in ("host", "port", "dbname", "user"))
        # Django's own connection to the 'postgres' database (creating the test database)
        # falls back to another database when it fails: leave its errors as they are.
        if self.alias == NO_DB_ALIAS or key in _checked:
            return super().get_new_connection(conn_params)
        try:
            connection = super().get_new_connection(conn_params)
        except self.Database.Error as exc:
            raise unreachable(self.settings_dict, exc) from None
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
                has_vector = cursor.fetchone() is not None
            # Out of the check's transaction, so Django can set autocommit next.
            connection.rollback()
        except self.Database.Error as exc:
            connection.close()
            raise unreachable(self.settings_dict, exc) from None
        if not has_vector:
            connection.close()
            raise without_pgvector(self.settings_dict)
        with _checked_lock:
            _checked.add(key)
        return connection
