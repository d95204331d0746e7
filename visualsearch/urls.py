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
    # Read MEDIA_ROOT per request, so tests that point it elsewhere are served too.
    urlpatterns.append(
        re_path(
            rf"^{settings.MEDIA_URL.lstrip('/')}(?P<path>.*)$",
            lambda request, path: serve(request, path, document_root=settings.MEDIA_ROOT),
        )
    )
