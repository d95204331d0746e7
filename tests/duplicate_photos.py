"""Altered copies of a photo, as bench/dedup.py makes them: re-encoded, halved, cropped, brightened."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageEnhance


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def altered(path: Path, change: str) -> bytes:
    """``path`` re-encoded at JPEG quality 60 (``jpeg60``), ``half`` size, ``crop90`` or ``bright``."""
    image = Image.open(path).convert("RGB")
    if change == "jpeg60":
        return _jpeg(image, 60)
    if change == "half":
        return _jpeg(image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.LANCZOS))
    if change == "crop90":
        dx, dy = round(image.width * 0.05), round(image.height * 0.05)
        return _jpeg(image.crop((dx, dy, image.width - dx, image.height - dy)))
    if change == "bright":
        return _jpeg(ImageEnhance.Brightness(image).enhance(1.3))
    raise ValueError(f"unknown change {change!r}")
