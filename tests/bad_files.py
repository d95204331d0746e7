"""Awkward uploads, made on the spot with Pillow and numpy: broken files, odd modes, big photos."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth colour gradients with a little noise: compresses like a photo, not like a flat fill."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], axis=-1)
    noisy = base + rng.normal(0, 12, base.shape).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def noise_jpeg(width: int, height: int, quality: int = 95, seed: int = 0) -> bytes:
    """A JPEG of pure noise: about 1.2 bytes a pixel at quality 95, as large as phone photos get."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return encoded(Image.fromarray(pixels), "JPEG", quality=quality)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims a size but that carries no pixel data (a cheap 'bomb')."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def animated_gif() -> bytes:
    frames = [Image.new("P", (160, 120), index * 40) for index in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    content_type: str
    message: str = ""  # part of the refusal, in words; "" for files that must be searched fine


def refused_uploads() -> dict[str, Upload]:
    """Files a search must refuse with a 4xx that says why."""
    jpeg = encoded(photo_like(320, 240), "JPEG", quality=90)
    return {
        "5000x1 PNG": Upload("strip.png", encoded(Image.new("RGB", (5000, 1)), "PNG"), "image/png", "5000x1 pixels"),
        "3x4000 PNG": Upload("pole.png", encoded(Image.new("RGB", (3, 4000)), "PNG"), "image/png", "3x4000 pixels"),
        "PPM with a bogus header": Upload(
            "scan.ppm", b"P6\n10 10\n99999999\n" + b"\0" * 300, "image/x-portable-pixmap", "could not be opened"
        ),
        "truncated JPEG": Upload("cut.jpg", jpeg[: len(jpeg) // 2], "image/jpeg", "truncated"),
        "huge-dimension header": Upload("bomb.png", png_header(30000, 30000), "image/png", "too large"),
        "header over MAX_IMAGE_PIXELS": Upload("big.png", png_header(7000, 7000), "image/png", "MAX_IMAGE_PIXELS"),
        "zero-byte file": Upload("empty.jpg", b"", "image/jpeg", "empty"),
        "non-image bytes": Upload("notes.jpg", b"%PDF-1.7 a document, not a photo", "image/jpeg", "not an image"),
        "HTML named .jpg": Upload(
            "page.jpg", b"<!doctype html><html><body><h1>hi</h1></body></html>", "image/jpeg", "not an image"
        ),
    }


def odd_but_valid_uploads() -> dict[str, Upload]:
    """Unusual encodings of real pictures: each must be searched (200), not refused."""
    ramp16 = (np.arange(320 * 240, dtype=np.uint32) * 3 % 65536).astype(np.uint16).reshape(240, 320)
    ramp32 = np.linspace(0.0, 1.0, 320 * 240, dtype=np.float32).reshape(240, 320)
    cmyk = photo_like(320, 240).convert("CMYK")
    return {
        "16-bit PNG": Upload("deep.png", encoded(Image.fromarray(ramp16), "PNG"), "image/png"),
        "float32 TIFF": Upload("float.tif", encoded(Image.fromarray(ramp32), "TIFF"), "image/tiff"),
        "CMYK JPEG": Upload("print.jpg", encoded(cmyk, "JPEG", quality=90), "image/jpeg"),
        "animated GIF": Upload("moving.gif", animated_gif(), "image/gif"),
    }
