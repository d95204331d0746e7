import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from visualsearch.health import healthz

admin.site.site_header = "VisualSearch administration"
admin.site.site_title = "VisualSearch admin"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("search.urls")),
]
if settings.SERVE_MEDIA and not settings.GS_BUCKET_NAME:
    # Local media served by Django itself (development, single-host deployments).
    # MEDIA_ROOT is read per request, so tests that point it elsewhere are served too.
    prefix = re.escape(settings.MEDIA_URL.lstrip("/"))
    urlpatterns.append(
        re_path(rf"^{prefix}(?P<path>.*)$", lambda request, path: serve(request, path, settings.MEDIA_ROOT))
    )
