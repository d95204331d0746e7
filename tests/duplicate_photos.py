"""Edited copies of a photo, as bench/dedup.py and the duplicate tests make them.

Each edit is one a person makes to a photo before uploading it again: re-encoding, resizing,
mirroring, turning, framing, cropping, overlaying, recolouring. Random choices (a crop's
offset, a border's colour) are seeded by the photo's name, so a set is the same every run.
"""

from __future__ import annotations

import io
import random
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageOps


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _reopen(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _crop(image: Image.Image, share: float, rng: random.Random) -> Image.Image:
    """A window of ``share`` of each side, at a random offset."""
    w, h = round(image.width * share), round(image.height * share)
    x, y = rng.randint(0, image.width - w), rng.randint(0, image.height - h)
    return image.crop((x, y, x + w, y + h))


def _border(image: Image.Image, sides: tuple[float, float, float, float], fill: tuple[int, int, int]) -> Image.Image:
    """Padding of one colour: shares of the width (left, right) and height (top, bottom)."""
    left, top, right, bottom = sides
    border = (round(image.width * left), round(image.height * top), round(image.width * right))
    return ImageOps.expand(image, border=(*border, round(image.height * bottom)), fill=fill)


def _text(image: Image.Image, rng: random.Random, watermark: bool) -> Image.Image:
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(12, image.height // (8 if watermark else 12))
    words = "(c) photo studio 2026" if watermark else "Look at this! #holiday"
    x, y = rng.randint(0, image.width // 3), rng.randint(image.height // 2, image.height - size - 1)
    draw.text((x, y), words, fill=(255, 255, 255, 110 if watermark else 255), font_size=size)
    if watermark:  # a logo box too, as stock sites stamp
        draw.rectangle((x, y - size * 2, x + size * 3, y - size // 2), fill=(255, 255, 255, 90))
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def _chain(image: Image.Image) -> bytes:
    """Re-encoded as a photo passes through apps: q80, shrunk to 80 %, q60, q45."""
    image = _reopen(_jpeg(image, 80))
    image = image.resize((round(image.width * 0.8), round(image.height * 0.8)), Image.Resampling.BILINEAR)
    return _jpeg(_reopen(_jpeg(image, 60)), 45)


def _rotate_small(image: Image.Image, angle: float) -> Image.Image:
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)


def _edits(rng: random.Random) -> dict[str, Callable[[Image.Image], Image.Image]]:
    colour = tuple(rng.randint(0, 255) for _ in range(3))
    return {
        "jpeg60": lambda im: im,  # encoded at q60 below
        "half": lambda im: im.resize((max(1, im.width // 2), max(1, im.height // 2)), Image.Resampling.LANCZOS),
        "crop90": lambda im: im.crop(
            (
                round(im.width * 0.05),
                round(im.height * 0.05),
                im.width - round(im.width * 0.05),
                im.height - round(im.height * 0.05),
            )
        ),
        "bright": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
        "mirror": ImageOps.mirror,
        "rot90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
        "rot180": lambda im: im.transpose(Image.Transpose.ROTATE_180),
        "rot270": lambda im: im.transpose(Image.Transpose.ROTATE_270),
        "rot4": lambda im: _rotate_small(im, rng.choice((-4.0, 4.0))),
        "letterbox": lambda im: _border(im, (0, 0.15, 0, 0.15), (0, 0, 0)),
        "screenshot": lambda im: _border(im, (0.04, 0.12, 0.04, 0.2), (245, 245, 245)),
        "padding": lambda im: _border(im, (0.08, 0.08, 0.08, 0.08), colour),
        "crop80": lambda im: _crop(im, 0.8, rng),
        "crop70": lambda im: _crop(im, 0.7, rng),
        "crop60": lambda im: _crop(im, 0.6, rng),
        "text": lambda im: _text(im, rng, watermark=False),
        "watermark": lambda im: _text(im, rng, watermark=True),
        "grey": lambda im: ImageOps.grayscale(im).convert("RGB"),
        "colour": lambda im: ImageEnhance.Color(ImageEnhance.Contrast(im).enhance(1.25)).enhance(0.6),
    }


CHANGES = (*_edits(random.Random(0)), "chain")


def altered(path: Path, change: str) -> bytes:
    """``path`` with one edit of CHANGES, as JPEG bytes (quality 90 unless the edit is the encoding)."""
    image = Image.open(path).convert("RGB")
    rng = random.Random(zlib.crc32(f"{path.name}:{change}".encode()))
    if change == "chain":
        return _chain(image)
    edits = _edits(rng)
    if change not in edits:
        raise ValueError(f"unknown change {change!r}")
    return _jpeg(edits[change](image), 60 if change == "jpeg60" else 90)
