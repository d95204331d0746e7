"""Search throttling over real HTTP: forged X-Forwarded-For values do not dodge it, pages count too.

The counters live in the local Redis (TEST_REDIS_URL), as they do in production with
CACHE_URL: the live server's threads share them like gunicorn workers would.
"""

from __future__ import annotations

import pytest
import requests
from django.core.cache import cache

from tests.live import http_session
from tests.workers import REDIS_URL

API = "/api/search_text"


@pytest.fixture
def throttled(settings, transactional_db, real_models):
    """Two searches a minute per client, counted in Redis, starting from zero."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    settings.SEARCH_THROTTLE_RATE = "2/min"
    cache.clear()
    yield
    cache.clear()


def api_search(base: str, forwarded_for: str | None = None) -> requests.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return requests.get(base + API, params={"query": "a car"}, headers=headers, timeout=60)


def page_search(base: str, forwarded_for: str | None = None) -> requests.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return requests.get(base + "/search", params={"q": "a car", "mode": "text"}, headers=headers, timeout=60)


def test_a_new_forwarded_for_value_each_time_is_still_throttled(throttled, live_server, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    responses = [api_search(live_server.url, f"203.0.113.{i}") for i in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert "throttled" in responses[-1].json()["error"].lower()
    assert int(responses[-1].headers["Retry-After"]) > 0


def test_behind_one_trusted_proxy_the_right_most_address_is_the_client(throttled, live_server, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client forges the left part; our proxy appends the address it saw (198.51.100.7).
    codes = [api_search(live_server.url, f"10.9.9.{i}, 198.51.100.7").status_code for i in range(3)]
    assert codes == [200, 200, 429]
    # Another client behind the same proxy, claiming to be the first one, has its own count.
    assert api_search(live_server.url, "198.51.100.7, 198.51.100.8").status_code == 200


def test_search_page_is_throttled_with_the_api_as_one_client(throttled, live_server, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert api_search(live_server.url, "203.0.113.1").status_code == 200
    assert page_search(live_server.url, "203.0.113.2").status_code == 200
    refused = page_search(live_server.url, "203.0.113.3")
    assert refused.status_code == 429
    assert refused.headers["Content-Type"].startswith("text/html")
    assert "Too many searches" in refused.text and "try again" in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    # The photo search (a form POST) and the crop page ("more like this") are the same client.
    photo = http_session().post(live_server.url + "/search", data={"mode": "image"}, timeout=60)
    assert photo.status_code == 429
    assert requests.get(live_server.url + "/crops/1", timeout=60).status_code == 429
    assert api_search(live_server.url).status_code == 429


def test_the_datasets_page_is_throttled_like_a_search(transactional_db, live_server, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    settings.SEARCH_THROTTLE_RATE = "2/min"
    settings.TRUSTED_PROXY_COUNT = 0
    cache.clear()
    try:
        codes = [requests.get(live_server.url + "/datasets", timeout=60).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        refused = requests.get(live_server.url + "/datasets", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=60)
        assert refused.status_code == 429 and "Too many" in refused.text
        assert int(refused.headers["Retry-After"]) > 0
    finally:
        cache.clear()
