from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

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
