"""Search throttling: one rate and one client identity for the pages and the API.

Both count against the same cache entry per client (Redis when CACHE_URL is set, so
every gunicorn worker and host shares it): switching from the API to the page
gains nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.throttling import SimpleRateThrottle

from visualsearch.access import client_identity


class SearchRateThrottle(SimpleRateThrottle):
    """SEARCH_THROTTLE_RATE per client, as identified by visualsearch.access.client_identity."""

    scope = "search"

    def get_rate(self) -> str:
        # Read per request (throttles are created per request), not frozen at import.
        return settings.SEARCH_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_identity(request)}


def throttle_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Apply the search throttle to a page: over the rate, a readable 429 page."""

    @wraps(view)
    def throttled_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        throttle = SearchRateThrottle()
        if throttle.allow_request(request, None):
            return view(request, *args, **kwargs)
        wait = max(1, math.ceil(throttle.wait() or 1))
        response = render(request, "search/throttled.html", {"wait": wait}, status=429)
        response["Retry-After"] = str(wait)
        return response

    return throttled_view
