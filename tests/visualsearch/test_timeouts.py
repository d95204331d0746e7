"""WEB_STATEMENT_TIMEOUT_MS over real requests: a query that runs too long (pg_sleep) is cancelled by
PostgreSQL and answered with a 503 that says so; outside requests (tasks, commands) nothing is limited."""

from __future__ import annotations

import time

import pytest
import requests
from django.db import OperationalError, connection

from indexing.catalog import selectors
from indexing.models import Dataset
from tests.factories import make_dataset
from tests.live import make_user
from visualsearch.celery import app
from visualsearch.db.timeouts import is_timeout
from visualsearch.db.timeouts import limited as limited_block

LIMIT_MS = 300


def sleep_in_database(seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [seconds])


@app.task
def slow_task(seconds: float) -> str:
    sleep_in_database(seconds)
    return "slept"


@pytest.fixture
def limited(settings):
    settings.WEB_STATEMENT_TIMEOUT_MS = LIMIT_MS
    settings.SEARCH_THROTTLE_RATE = "100000/min"


@pytest.fixture
def slow_datasets(monkeypatch):
    """The datasets' reads (page and API) run a 5 s query first: a collection too large to count."""
    for name in ("datasets_with_counts", "datasets_page"):
        original = getattr(selectors, name)

        def slow(*args, original=original, **kwargs):
            sleep_in_database(5)
            return original(*args, **kwargs)

        monkeypatch.setattr(selectors, name, slow)


def timed(url: str) -> tuple[requests.Response, float]:
    started = time.perf_counter()
    response = requests.get(url, timeout=60)
    return response, time.perf_counter() - started


def test_a_slow_query_answers_503_as_json_and_as_a_page(live_server, transactional_db, limited, slow_datasets):
    api, api_s = timed(live_server.url + "/api/datasets")
    assert api.status_code == 503
    assert api.headers["Content-Type"] == "application/json"
    assert api.json()["error"].startswith("The request took too long: a database query ran past 0.3 s and was stopped.")
    assert int(api.headers["Retry-After"]) > 0
    page, page_s = timed(live_server.url + "/datasets")
    assert page.status_code == 503
    assert page.headers["Content-Type"].startswith("text/html")
    assert "a database query ran past 0.3 s and was stopped" in page.text
    assert api_s < 3 and page_s < 3, (api_s, page_s)  # cancelled at the limit, not after 5 s


def test_requests_within_the_limit_answer_as_before(live_server, transactional_db, limited):
    assert requests.get(live_server.url + "/api/datasets", timeout=60).status_code == 200
    assert requests.get(live_server.url + "/datasets", timeout=60).status_code == 200


def test_the_limit_ends_with_the_request(client, transactional_db, limited, slow_datasets):
    # The test client runs the request on this thread's connection: it is unlimited again afterwards.
    assert client.get("/api/datasets").status_code == 503
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
    sleep_in_database(LIMIT_MS / 1000 * 2)  # a command's (or a test's) query: not cut short


def test_a_task_run_inside_a_request_is_not_limited(client, transactional_db, limited, monkeypatch):
    # CELERY_TASK_ALWAYS_EAGER runs a whole indexing job inside the request that queued it.
    ran: list[str] = []
    original = selectors.datasets_with_counts

    def counts_after_a_task(*args, **kwargs):
        ran.append(slow_task.apply(args=[LIMIT_MS / 1000 * 2]).get())
        return original(*args, **kwargs)

    monkeypatch.setattr(selectors, "datasets_with_counts", counts_after_a_task)
    staff = make_user("staff", is_staff=True)
    client.force_login(staff)
    assert client.get("/api/datasets").status_code == 200
    assert ran == ["slept"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


def test_the_limit_holds_when_the_first_query_is_a_server_side_cursor(transactional_db):
    make_dataset("one")
    with limited_block(LIMIT_MS):
        assert [d.name for d in Dataset.objects.iterator(chunk_size=10)] == ["one"]  # a named cursor
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == f"{LIMIT_MS}ms"
        with pytest.raises(OperationalError) as cancelled:
            sleep_in_database(2)
        assert is_timeout(cancelled.value)
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
