import re

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LoginView, LogoutView
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path, re_path
from django.views.i18n import set_language

from visualsearch.access import public
from visualsearch.health import healthz
from visualsearch.media import serve_media

admin.site.site_header = "VisualSearch administration"
admin.site.site_title = "VisualSearch admin"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Readers who are not staff log in here when SEARCH_REQUIRE_AUTH is on (the admin's login takes staff only).
    path("accounts/login/", public(LoginView.as_view(redirect_authenticated_user=True)), name="login"),
    path("accounts/logout/", public(LogoutView.as_view()), name="logout"),
    # The language switch (a POST with ``language`` and ``next``); open, as the login page offers it too.
    path("i18n/setlang/", public(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("", include("search.urls")),
]
if settings.SERVE_MEDIA and not settings.GS_BUCKET_NAME:
    # Local media served by Django itself (development, single-host deployments).
    # Only photos and active crops, never as a page a browser runs (visualsearch/media.py).
    # MEDIA_ROOT is read per request, so tests that point it elsewhere are served too.
    prefix = re.escape(settings.MEDIA_URL.lstrip("/"))
    urlpatterns.append(re_path(rf"^{prefix}(?P<path>.*)$", serve_media, name="media"))
if settings.DEBUG:
    # Development under gunicorn (`make demo`): static files from the app folders, as runserver
    # serves them (in production WhiteNoise serves the collected files; this adds nothing then).
    urlpatterns += staticfiles_urlpatterns()
