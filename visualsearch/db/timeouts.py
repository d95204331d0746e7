"""A PostgreSQL statement_timeout for web requests only (WEB_STATEMENT_TIMEOUT_MS).

gunicorn's timeout does not stop a request's thread, and a query holds its connection
and a server backend until it ends: every query a web request runs is therefore
limited. The limit is set on the connection by the request's first query (a request
that touches no database costs nothing) and reset when the request ends, so the same
connection serves anything else unlimited afterwards. Celery workers, migrations and
management commands never pass through a request and are not limited; a task run
eagerly inside a request (CELERY_TASK_ALWAYS_EAGER) is lifted out of the limit for its
duration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.db import DatabaseError, connection
from psycopg.pq import TransactionStatus

# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout (or by an administrator).
QUERY_CANCELED = "57014"


class StatementLimit:
    """An execute wrapper: the first query sets the limit on the connection; lift() resets it."""

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self.applied = False
        self.suspended = False

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        if not self.applied and not self.suspended:
            # On a cursor of its own, straight on the driver's connection: the query's cursor may
            # be a server-side one (QuerySet.iterator()), which runs one statement only.
            with context["connection"].connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{self.timeout_ms}ms"])
            self.applied = True
        return execute(sql, params, many, context)

    def lift(self) -> None:
        if not self.applied:
            return
        self.applied = False
        if connection.connection is None:
            return  # closed meanwhile: a new connection starts unlimited
        if connection.connection.info.transaction_status == TransactionStatus.INERROR:
            # A failed transaction opened before the request (a test's) and still open: the
            # limit was set inside it, and its rollback takes the limit away with it.
            return
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET statement_timeout")
        except DatabaseError:
            connection.close()  # never hand a limited connection on


_active: ContextVar[StatementLimit | None] = ContextVar("statement_limit", default=None)


@contextmanager
def limited(timeout_ms: int) -> Iterator[StatementLimit]:
    """Every query of this thread's connection inside the block limited to ``timeout_ms``."""
    limit = StatementLimit(timeout_ms)
    token = _active.set(limit)
    try:
        with connection.execute_wrapper(limit):
            yield limit
    finally:
        limit.lift()
        _active.reset(token)


def is_timeout(exc: BaseException) -> bool:
    """True for a query PostgreSQL cancelled (statement_timeout), however Django wrapped it."""
    while exc is not None:
        if getattr(exc, "sqlstate", None) == QUERY_CANCELED:
            return True
        exc = exc.__cause__
    return False


@task_prerun.connect
def lift_for_eager_task(**kwargs: Any) -> None:
    """A task run inside a request (eager mode) is a task, not a web request: no web limit."""
    limit = _active.get()
    if limit is not None:
        limit.suspended = True
        limit.lift()


@task_postrun.connect
def restore_after_eager_task(**kwargs: Any) -> None:
    limit = _active.get()
    if limit is not None:
        limit.suspended = False  # the request's next query sets the limit again
