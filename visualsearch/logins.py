"""Login lockout (django-axes): what a locked-out client reads.

Settings (visualsearch/settings/search.py): LOGIN_FAILURE_LIMIT failed logins from one client
lock it out for LOGIN_LOCKOUT_SECONDS, on the site's login and the admin's alike. The
client is the address visualsearch.access.client_ip reads (TRUSTED_PROXY_COUNT), the same
identity the search throttle counts by, so a forged X-Forwarded-For gains nothing.
"""

from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """429 with Retry-After: every failure while locked out starts the wait again."""
    cool_off = get_cool_off(request)
    seconds = max(1, math.ceil(cool_off.total_seconds())) if cool_off else None
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": math.ceil(seconds / 60) if seconds else None}
    response = render(request, "locked_out.html", context, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
