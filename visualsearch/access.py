"""Who is asking, and what they may see: client identity, details for staff, SEARCH_REQUIRE_AUTH.

One place for these rules, so pages, the API, media and /healthz cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import reverse


def client_ip(request: HttpRequest) -> str:
    """The client's address, believing X-Forwarded-For only as far as our own proxies wrote it.

    Each of TRUSTED_PROXY_COUNT proxies appends the address it received the request from,
    so the count-th entry from the right is what our outermost proxy saw; everything left
    of it the client may have written itself. With no trusted proxy the header is ignored:
    otherwise a new made-up value per request would be a new client each time.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies <= 0 or not forwarded:
        return remote
    return forwarded[-min(proxies, len(forwarded))]


def client_identity(request: HttpRequest) -> str:
    """Who a request counts against (throttling): the user when logged in, else the address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user-{user.pk}"
    return f"ip-{client_ip(request)}"


def sees_details(user) -> bool:
    """Staff see server details (paths, exception texts); everyone else sees status only."""
    return bool(user is not None and user.is_active and user.is_staff)


def login_required(user) -> bool:
    """True when SEARCH_REQUIRE_AUTH is on and this user has not logged in."""
    return settings.SEARCH_REQUIRE_AUTH and not (user is not None and user.is_authenticated)


def public(view: Callable) -> Callable:
    """Mark a view as open whatever SEARCH_REQUIRE_AUTH says (/healthz for load balancers)."""
    view.login_exempt = True
    return view


class RequireLoginMiddleware:
    """SEARCH_REQUIRE_AUTH for every page and media file, denying by default.

    A page added later is covered without anyone remembering a decorator. DRF views are
    left to their permission classes (which also accept API tokens, unknown here), the
    admin to its own login, and views marked ``@public`` are open.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable, view_args, view_kwargs) -> HttpResponse | None:
        if not login_required(request.user) or self.decides_itself(request, view_func):
            return None
        if request.path.startswith(settings.MEDIA_URL):
            return HttpResponseForbidden("Log in to see this file.", content_type="text/plain; charset=utf-8")
        return redirect_to_login(request.get_full_path(), reverse("login"))

    @staticmethod
    def decides_itself(request: HttpRequest, view_func: Callable) -> bool:
        from rest_framework.views import APIView

        view_class = getattr(view_func, "cls", None)
        return (
            getattr(view_func, "login_exempt", False)
            or (isinstance(view_class, type) and issubclass(view_class, APIView))
            or request.path.startswith(reverse("admin:index"))
            # Static files stay open (served by Django only in development under gunicorn: make demo).
            or request.path.startswith("/" + settings.STATIC_URL.lstrip("/"))
        )
