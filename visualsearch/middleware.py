"""503s that say why: models that cannot be loaded, queries past the web statement timeout.

The detector and CLIP load on a process's first search. When they cannot (weights
missing, the model hub unreachable), every page and API call that needs them gets
a 503 in milliseconds instead of a 500 or a request that hangs in download retries.

Every query of a web request is limited to WEB_STATEMENT_TIMEOUT_MS
(visualsearch/db/timeouts.py); one that runs longer is cancelled by PostgreSQL and the
request answers a 503 saying so, instead of a 500 or a thread held for minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from indexing.vision.errors import ModelLoadError
from indexing.vision.weights.downloads import SourceUnreachable
from visualsearch.db.timeouts import is_timeout, limited

logger = logging.getLogger(__name__)

GENERIC_REASON = gettext_lazy(
    "the search models could not be loaded; an administrator can see why at /healthz or in the logs"
)


def unavailable_reason(exc: ModelLoadError, request: HttpRequest) -> str:
    """The sentence to show: whole for staff and for an unreachable source (it names no path), else generic."""
    user = getattr(request, "user", None)
    # A reason marked public (a text encoder aligned to another CLIP) names models, never paths.
    if isinstance(exc, SourceUnreachable) or getattr(exc, "public", False) or (user is not None and user.is_staff):
        return str(exc)
    return str(GENERIC_REASON)


class ModelUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, ModelLoadError):
            return None
        logger.error("Search unavailable for %s: %s", request.path, exc)
        message = _("Search is unavailable: %(reason)s") % {"reason": unavailable_reason(exc, request)}
        return unavailable(request, message, retry_after=60)


def unavailable(request: HttpRequest, message: str, retry_after: int) -> HttpResponse:
    """A 503: JSON under /api/, the unavailable page elsewhere."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"error": message}, status=503)
    else:
        response = render(request, "unavailable.html", {"message": message}, status=503)
    response["Retry-After"] = str(retry_after)
    return response


class StatementTimeoutMiddleware:
    """Every query of a request limited to WEB_STATEMENT_TIMEOUT_MS (0: no limit); past it, a 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timeout_ms = settings.WEB_STATEMENT_TIMEOUT_MS
        if not timeout_ms:
            return self.get_response(request)
        with limited(timeout_ms):
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not is_timeout(exc):
            return None
        limit_s = settings.WEB_STATEMENT_TIMEOUT_MS / 1000
        logger.warning("A query of %s passed WEB_STATEMENT_TIMEOUT_MS (%g s) and was cancelled", request.path, limit_s)
        message = _(
            "The request took too long: a database query ran past %(limit)s s and was stopped. "
            "Try again shortly, or ask for less (fewer results, a narrower filter)."
        ) % {"limit": f"{limit_s:g}"}
        return unavailable(request, message, retry_after=5)
