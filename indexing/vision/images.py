"""Turn whatever a user hands us (bytes, a path, an upload) into one upright RGB image.

Every failure is an ImageError whose message says what was wrong, so indexing can
record it against that image and move on, and search can answer with a 4xx. Bytes
come from strangers: Pillow's decoders raise many exception types on malformed data
(ValueError, SyntaxError, OSError, struct.error, EOFError, IndexError...), so every
Pillow step here turns any exception into an ImageError.

Memory: the decoded image is the only full-size copy made for 8-bit RGB input;
other modes are converted to 8-bit RGB (in strips for 16/32-bit data) before the
EXIF rotation, which then works on the smaller RGB copy.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from django.conf import settings
from PIL import ExifTags, Image, UnidentifiedImageError

from indexing.vision.errors import ImageError
from indexing.vision.yolov5_env import pillow_open

logger = logging.getLogger(__name__)


ImageSource = bytes | bytearray | str | Path | BinaryIO

# Rule for shapes: the detector scales the long side to DETECTOR_IMAGE_SIZE (640) and
# sees the image in cells of its stride (32 px), so past 640/32 = 20:1 the short side
# is under one cell: nothing can be detected, yolov5's letterbox asserts on a side that
# rounds to 0 px, and CLIP would blow a 5000x1 strip up to 1,120,000x224 pixels. Such
# images are refused with their size; square tiny images (even 1x1) are fine.
MAX_ASPECT_RATIO = 20
# Modes whose pixels carry (or may carry) an alpha channel to flatten onto white.
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
# Integer/float single-channel modes with more than 8 bits per pixel.
_HIGH_DEPTH_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
# Rows converted at a time from 16/32-bit to 8-bit: bounds the float32 scratch memory.
_STRIP_ROWS = 256
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def load_image(source: ImageSource, *, max_pixels: int | None = None, name: str | None = None) -> Image.Image:
    """Decode ``source`` into an RGB image, upright per its EXIF orientation.

    ``max_pixels`` defaults to settings.MAX_IMAGE_PIXELS; larger images, and images
    more elongated than MAX_ASPECT_RATIO, are refused from their header, before any
    pixel is decoded. ``name`` is how error messages call the image (default: its
    path, or "The uploaded data").
    """
    limit = settings.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    stream, default_name = _open_stream(source)
    name = name or default_name
    image = _open(stream, name)
    rgb = None
    try:
        check_shape(image.size, name, limit)
        try:
            image.load()
            orientation = _orientation(image)
            rgb = to_rgb(image)
        except ImageError as exc:  # from to_rgb, which does not know the name
            raise ImageError(f"{name}: {exc}") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"{name} is too large to decode safely ({exc}).") from exc
        except Exception as exc:  # any decoder failure is this file's fault (see module doc)
            # Pillow reports truncated data as OSError ("image file is truncated").
            raise ImageError(f"{name} is truncated or corrupt: {_reason(exc)}") from exc
        return _upright(rgb, orientation)
    finally:
        if rgb is not image:
            image.close()  # frees the decoded original once an RGB copy exists


def check_shape(size: tuple[int, int], name: str, max_pixels: int) -> None:
    """Refuse sizes the pipeline cannot take: no pixels, too many, or too elongated."""
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageError(f"{name} has no pixels ({width}x{height}).")
    if width * height > max_pixels:
        raise ImageError(
            f"{name} is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (MAX_IMAGE_PIXELS)."
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageError(
            f"{name} is {width}x{height} pixels: more than {MAX_ASPECT_RATIO} times as long as it is wide. "
            f"Photos more elongated than {MAX_ASPECT_RATIO}:1 cannot be searched or indexed."
        )


def _open(stream: BinaryIO, name: str) -> Image.Image:
    """Pillow's lazy open: reads the header only (Pillow's own, even when ultralytics patched it)."""
    try:
        return pillow_open()(stream)
    except (UnidentifiedImageError, ImportError) as exc:
        raise ImageError(f"{name} is not an image file Pillow can read.") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name} is too large to decode safely ({exc}).") from exc
    except Exception as exc:  # e.g. ValueError for a PPM with a bogus header
        raise ImageError(f"{name} could not be opened as an image: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


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


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 = upright); a broken EXIF block does not spoil good pixels."""
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # unreadable EXIF: show the pixels as stored
        logger.debug("Ignoring unreadable EXIF data", exc_info=True)
        return 1


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSES.get(orientation)
    return image.transpose(method) if method is not None else image


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB (``image`` itself when it already is); transparency onto white."""
    mode = image.mode
    if mode == "RGB":
        return image
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
    """16-bit and 32-bit greyscale to 8 bits: PIL's own convert clips rather than scales.

    Scaled a strip of rows at a time in float32: converting a 36 MP float image whole
    (as float64, with temporaries) took over 1 GB on top of the decoded pixels.
    """
    # Pillow's getextrema does not take every 16-bit mode (I;16B): find the top ourselves.
    high = max(float(np.max(strip, where=np.isfinite(strip), initial=0.0)) for _, strip in _float_strips(image))
    if image.mode == "F":
        top = 1.0 if high <= 1.0 else 255.0
    elif image.mode.startswith("I;16") or high > 255:
        top = 65535.0  # 16-bit data, whether Pillow calls the mode I;16 or I
    else:
        top = 255.0
    grey = np.empty((image.height, image.width), dtype=np.uint8)
    for y, strip in _float_strips(image):
        np.nan_to_num(strip, copy=False, nan=0.0, posinf=top, neginf=0.0)
        np.multiply(strip, 255.0 / top, out=strip)
        np.clip(strip, 0, 255, out=strip)
        grey[y : y + strip.shape[0]] = np.rint(strip, out=strip)
    return Image.fromarray(grey).convert("RGB")


def _float_strips(image: Image.Image) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, float32 pixels) for each strip of _STRIP_ROWS rows."""
    width, height = image.size
    for y in range(0, height, _STRIP_ROWS):
        yield y, np.array(image.crop((0, y, width, min(height, y + _STRIP_ROWS))), dtype=np.float32)
