import re

from django.conf import settings
from django.conf.urls.static import static
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
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
elif settings.SERVE_MEDIA and not settings.GS_BUCKET_NAME:
    # Single-host deployments keep media in a volume only this stack sees; `static()`
    # serves nothing once DEBUG is off, so route it explicitly.
    prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns += [re_path(rf"^{re.escape(prefix)}(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]
