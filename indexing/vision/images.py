"""Turn whatever a user hands us (bytes, a path, an upload) into one upright RGB image.

Every failure is an ImageError whose message says what was wrong, so indexing can
record it against that image and move on.
"""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np
from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from indexing.vision.errors import ImageError


def _pillow_open():
    """Pillow's own ``Image.open``.

    Importing ultralytics (yolov5 does) replaces ``PIL.Image.open`` process-wide with a
    wrapper that tries to pip-install a HEIF plugin whenever a file is not an image:
    a network call on bad input, and a ModuleNotFoundError offline.
    """
    patches = sys.modules.get("ultralytics.utils.patches")
    return getattr(patches, "_image_open", Image.open) if patches else Image.open


_open = _pillow_open()


def restore_pillow_open() -> None:
    """Undo ultralytics' patch of ``PIL.Image.open`` (call after importing yolov5)."""
    Image.open = _pillow_open()


ImageSource = bytes | bytearray | str | Path | BinaryIO

# Modes whose pixels carry (or may carry) an alpha channel to flatten onto white.
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
# Integer/float single-channel modes with more than 8 bits per pixel.
_HIGH_DEPTH_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_image(source: ImageSource, *, max_pixels: int | None = None) -> Image.Image:
    """Decode ``source`` into an RGB image, upright per its EXIF orientation.

    ``max_pixels`` defaults to settings.MAX_IMAGE_PIXELS; larger images are refused
    from their header, before any pixel is decoded.
    """
    limit = settings.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    stream, name = _open_stream(source)
    try:
        image = _open(stream)
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name} is not an image file Pillow can read.") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name} is too large to decode safely ({exc}).") from exc
    except OSError as exc:
        raise ImageError(f"{name} could not be opened as an image: {exc}") from exc
    with image:
        width, height = image.size
        if width * height > limit:
            raise ImageError(
                f"{name} is {width}x{height} = {width * height:,} pixels, over the limit of "
                f"{limit:,} (MAX_IMAGE_PIXELS)."
            )
        if width == 0 or height == 0:
            raise ImageError(f"{name} has no pixels ({width}x{height}).")
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"{name} is too large to decode safely ({exc}).") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            # Pillow reports truncated or corrupt data as OSError ("image file is truncated").
            raise ImageError(f"{name} is truncated or corrupt: {exc}") from exc
        return to_rgb(upright)


def _open_stream(source: ImageSource) -> tuple[BinaryIO, str]:
    """A seekable binary stream and a name for messages; refuses empty input."""
    if isinstance(source, bytes | bytearray):
        data, name = bytes(source), "The uploaded data"
    elif isinstance(source, str | Path):
        path = Path(source)
        name = f"Image file {path}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"{name} could not be read: {exc.strerror or exc}") from exc
    else:
        name = f"Image file {getattr(source, 'name', '') or '(upload)'}"
        if hasattr(source, "seek"):
            source.seek(0)
        data = source.read()
    if not data:
        raise ImageError(f"{name} is empty (0 bytes).")
    return io.BytesIO(data), name


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is flattened onto white."""
    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode in _HIGH_DEPTH_MODES:
        return _high_depth_to_rgb(image)
    if mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageError(f"Images in Pillow mode {mode!r} cannot be converted to RGB.") from exc


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale to 8 bits: PIL's own convert clips rather than scales."""
    pixels = np.asarray(image).astype(np.float64)
    if image.mode == "F":
        top = 1.0 if pixels.max(initial=0.0) <= 1.0 else 255.0
    elif image.mode.startswith("I;16") or pixels.max(initial=0) > 255:
        top = 65535.0  # 16-bit data, whether Pillow calls the mode I;16 or I
    else:
        top = 255.0
    scaled = np.clip(pixels / top * 255.0, 0, 255).round().astype(np.uint8)
    return Image.fromarray(scaled, mode="L").convert("RGB")
