"""Answer requests whose models cannot be loaded with a 503 that says why, at once.

The detector and CLIP load on a process's first search. When they cannot (weights
missing, the model hub unreachable), every page and API call that needs them gets
a 503 in milliseconds instead of a 500 or a request that hangs in download retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from indexing.vision.downloads import SourceUnreachable
from indexing.vision.errors import ModelLoadError

logger = logging.getLogger(__name__)

GENERIC_REASON = "the search models could not be loaded; an administrator can see why at /healthz or in the logs"


def unavailable_reason(exc: ModelLoadError, request: HttpRequest) -> str:
    """The sentence to show: whole for staff and for an unreachable source (it names no path), else generic."""
    user = getattr(request, "user", None)
    if isinstance(exc, SourceUnreachable) or (user is not None and user.is_staff):
        return str(exc)
    return GENERIC_REASON


class ModelUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, ModelLoadError):
            return None
        logger.error("Search unavailable for %s: %s", request.path, exc)
        message = f"Search is unavailable: {unavailable_reason(exc, request)}"
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse({"error": message}, status=503)
        else:
            response = render(request, "unavailable.html", {"message": message}, status=503)
        response["Retry-After"] = "60"
        return response
