"""Schemathesis against the OpenAPI schema: no input to the search endpoints gives a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from visualsearch.wsgi import application

SEARCH_PATHS = r"^/api/(search|search_text|crops|datasets|jobs)"


@pytest.fixture
def schema(db):
    return schemathesis.openapi.from_wsgi("/api/schema?format=json", application)


def test_search_endpoints_never_answer_500(indexed, schema, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    # Hundreds of requests in seconds: lift the per-client throttle for this test.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"search": "100000/min"})
    operations = list(schema.include(path_regex=SEARCH_PATHS).get_all_operations())
    assert len(operations) >= 7
    for result in operations:
        operation = result.ok()
        strategy = operation.as_strategy()

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            response = case.call()
            case.validate_response(response, checks=(not_a_server_error,))

        given(strategy)(check)()
