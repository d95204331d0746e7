"""Which bytes may be stored as a photo: decodable raster images, named by what they are.

Stored photos are served from the site's own origin, so a file kept under the name a
user chose (``.html``, ``.svg``) would run as a page there. ``identify_raster`` opens
the data with Pillow restricted to raster formats, verifies it, and gives back the
extension to store it under; anything else raises ImageError with the reason.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from indexing.vision.errors import ImageError
from indexing.vision.yolov5_env import pillow_open

# Pillow format -> the extension a stored file gets. Only pixel formats that browsers
# show as images and the pipeline decodes; no vector or document formats (SVG, EPS,
# PDF), which Pillow either cannot read or would hand to an external interpreter.
RASTER_EXTENSIONS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",  # multi-picture JPEG from phone cameras; Pillow opens it as JPEG
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "AVIF": ".avif",
}
# The formats Pillow is allowed to try (MPO is detected through the JPEG opener).
OPEN_FORMATS = tuple(sorted(set(RASTER_EXTENSIONS) - {"MPO"}))
# Every extension a stored photo can have; anything else is stored as opaque .bin.
STORED_EXTENSIONS = frozenset(RASTER_EXTENSIONS.values())


@dataclass(frozen=True)
class RasterInfo:
    format: str  # Pillow's name for it, e.g. "JPEG"
    extension: str  # what the stored file is called by, e.g. ".jpg"
    width: int
    height: int


def identify_raster(data: bytes, name: str = "The file", max_pixels: int | None = None) -> RasterInfo:
    """Check that ``data`` is a raster image within the pixel limit; raise ImageError why not.

    Reads the header and lets Pillow verify the structure (PNG checksums, GIF and TIFF
    layout) without decoding pixels, so it is cheap enough for every upload.
    """
    if not data:
        raise ImageError(f"{name} is empty (0 bytes).")
    limit = settings.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            # Pillow only warns up to twice its own limit; ours is checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with pillow_open()(io.BytesIO(data), formats=OPEN_FORMATS) as image:
                kind, (width, height) = image.format, image.size
                image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ImageError(
            f"{name} is not a photo in a supported format ({', '.join(sorted(RASTER_EXTENSIONS))})."
        ) from exc
    except Exception as exc:  # Pillow reports broken files with many exception types
        raise ImageError(f"{name} is not a valid image: {exc}") from exc
    if kind not in RASTER_EXTENSIONS:
        raise ImageError(f"{name} is a {kind} file, not a supported photo format.")
    if width <= 0 or height <= 0:
        raise ImageError(f"{name} has no pixels ({width}x{height}).")
    if width * height > limit:
        raise ImageError(
            f"{name} is {width}x{height} = {width * height:,} pixels, over the limit of {limit:,} (MAX_IMAGE_PIXELS)."
        )
    return RasterInfo(kind, RASTER_EXTENSIONS[kind], width, height)
