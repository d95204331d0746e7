"""MEDIA_URL served by Django (SERVE_MEDIA): photos and active crops, never anything a browser runs.

Only a file that belongs to a dataset photo (``images/``) or an active crop (``crops/``)
is served; anything else under MEDIA_ROOT is a 404. The content type comes from an
allow-list of raster image types, never from the file's name alone: a photo stored
under an odd name (``x.svg``, ``x.html``) is a download, not a page. ``nosniff`` and a
sandboxing CSP keep a browser from running whatever the bytes are.
"""

from __future__ import annotations

import posixpath

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.static import serve

from indexing.models import Crop, SourceImage

RASTER_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}
SANDBOX_CSP = "default-src 'none'; sandbox"


def is_public_media(name: str) -> bool:
    """True when ``name`` is the file of a dataset photo or of an active crop."""
    if "\x00" in name:
        return False  # no stored name has one, and PostgreSQL refuses it in a query (a 500)
    if posixpath.normpath(name) != name or name.startswith(("/", "..")):
        return False  # only canonical names, as the storage wrote them
    if name.startswith("crops/"):
        return Crop.objects.filter(file=name, is_active=True).exists()
    if name.startswith("images/"):
        return SourceImage.objects.filter(file=name).exists()
    return False


def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    if not is_public_media(path):
        raise Http404("No such file.")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    content_type = RASTER_TYPES.get(posixpath.splitext(path)[1].lower())
    if content_type is None:
        response["Content-Type"] = "application/octet-stream"
        response["Content-Disposition"] = "attachment"
    else:
        response["Content-Type"] = content_type
    # mimetypes may have guessed an encoding (x.svgz): the bytes are served as they are.
    if "Content-Encoding" in response:
        del response["Content-Encoding"]
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    return response
