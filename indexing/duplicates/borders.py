"""Uniform borders around a photo (letterbox bars, screenshot margins, padding of any colour), found and trimmed.

A border changes a photo's whole-frame pHash as much as a crop does, so the frame inside
it is hashed too (indexing.duplicates.fingerprints). A side's border is the run of outer
rows (or columns) that are one colour: nearly every pixel within ``TOLERANCE`` levels of
that side's median colour, which JPEG's ringing along a sharp edge stays within. The
search runs on a copy at most ``_WORK_SIDE`` pixels on a side, so it costs the same for
any photo, and the box is scaled back to the photo's pixels.

A photo that is one colour throughout, or whose "border" would leave less than
``MIN_KEPT`` of either side, is left whole: a blank page, not a framed picture.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

TOLERANCE = 16  # levels per channel, 0-255
COVERAGE = 0.97  # share of a row's pixels that must be the border colour
MIN_KEPT = 0.3  # least share of each side the trimmed frame keeps
MIN_BORDER = 4  # rows of the working copy (1.5 %) below which nothing is trimmed: too thin to move the pHash
_WORK_SIDE = 256

Box = tuple[int, int, int, int]  # left, top, right, bottom (PIL crop box)


def _uniform_run(lines: np.ndarray) -> int:
    """How many of ``lines`` (outermost first; each a row of RGB pixels) are the first line's colour."""
    colour = np.median(lines[0], axis=0)
    close = np.abs(lines.astype(np.int16) - colour.astype(np.int16)).max(axis=2) <= TOLERANCE
    share = close.mean(axis=1)
    failing = np.flatnonzero(share < COVERAGE)
    return int(failing[0]) if failing.size else len(lines)


def border_box(image: Image.Image) -> Box | None:
    """The box inside ``image``'s uniform borders, in its pixels; None when there is no border to trim."""
    width, height = image.size
    scale = min(1.0, _WORK_SIDE / max(width, height))
    small = image.convert("RGB")
    if scale < 1.0:
        small = small.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BILINEAR)
    pixels = np.asarray(small)
    h, w = pixels.shape[:2]
    top = _uniform_run(pixels)
    bottom = _uniform_run(pixels[::-1])
    left = _uniform_run(pixels.transpose(1, 0, 2))
    right = _uniform_run(pixels.transpose(1, 0, 2)[::-1])
    sides = [s if s >= MIN_BORDER else 0 for s in (left, top, right, bottom)]
    left, top, right, bottom = sides
    if not any(sides) or w - left - right < MIN_KEPT * w or h - top - bottom < MIN_KEPT * h:
        return None
    box = (left / scale, top / scale, (w - right) / scale, (h - bottom) / scale)
    # One working pixel inward on the trimmed sides: the resize blurs the border's edge into the photo.
    inset = 1 / scale
    return (
        round(box[0] + (inset if left else 0)),
        round(box[1] + (inset if top else 0)),
        round(min(width, box[2] - (inset if right else 0))),
        round(min(height, box[3] - (inset if bottom else 0))),
    )


def trim_borders(image: Image.Image) -> tuple[Image.Image, Box | None]:
    """``image`` without its uniform borders, and the box kept (None: nothing trimmed, the same image)."""
    box = border_box(image)
    return (image.crop(box), box) if box else (image, None)
