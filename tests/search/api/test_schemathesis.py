"""Schemathesis against the OpenAPI schema: no input to the search endpoints gives a 500.

Requests go over HTTP to a live server: the WSGI handler's own connection
handling would close the test's database connection in-process.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from indexing.ann import builds
from tests.search.conftest import index_files

SEARCH_PATHS = r"^/api/(search|search_text|crops|datasets|jobs)"


@pytest.fixture
def indexed_live(transactional_db, real_models, coco_subset_files, settings):
    # Hundreds of requests in seconds: lift the per-client throttle for this test.
    settings.SEARCH_THROTTLE_RATE = "100000/min"
    index_files(coco_subset_files[:3])
    builds.publish_build()


def test_search_endpoints_never_answer_500(indexed_live, live_server):
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema?format=json")
    operations = [result.ok() for result in schema.include(path_regex=SEARCH_PATHS).get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:

        @hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(operation.as_strategy())
        def check(case) -> None:
            response = case.call(base_url=live_server.url)
            case.validate_response(response, checks=(not_a_server_error,))

        check()
