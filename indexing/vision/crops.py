"""Which part of an image to cut out for a detection: pure functions, no models.

Padding gives CLIP a little context around the object; the filters drop crops that
are too small, too thin or too tiny a share of the photo to embed meaningfully.
Indexing and query photos (search) plan their crops with the same plan_crops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from PIL import Image

if TYPE_CHECKING:  # for the hints only: importing the detector module pulls in torch
    from indexing.vision.detector import Detection

# x1, y1, x2, y2 of a detection in source-image pixels (floats, before padding).
DetectionBox = tuple[float, float, float, float]
# left, top, right, bottom of a crop in whole pixels, right/bottom exclusive.
PixelBox = tuple[int, int, int, int]


@dataclass(frozen=True)
class CropPolicy:
    padding: float = 0.1  # fraction of the box's width/height added on each side
    min_side: int = 32  # pixels; the crop's shorter side must be at least this
    max_aspect: float = 4.0  # long side / short side
    min_area_fraction: float = 0.001  # of the whole image's area

    @classmethod
    def from_settings(cls) -> CropPolicy:
        return cls(
            padding=settings.CROP_PADDING,
            min_side=settings.CROP_MIN_SIDE,
            max_aspect=settings.CROP_MAX_ASPECT,
            min_area_fraction=settings.CROP_MIN_AREA_FRACTION,
        )


def crop_box(box: DetectionBox, image_size: tuple[int, int], policy: CropPolicy | None = None) -> PixelBox | None:
    """The integer pixel box (x1, y1, x2, y2), x2/y2 exclusive, to crop for ``box``.

    The box is padded, rounded outward and clamped to the image; None when the result
    breaks the policy's size, aspect or area limits.
    """
    policy = policy or CropPolicy.from_settings()
    width, height = image_size
    x1, y1, x2, y2 = box
    pad_x = (x2 - x1) * policy.padding
    pad_y = (y2 - y1) * policy.padding
    left = _clamp(math.floor(x1 - pad_x), 0, width)
    top = _clamp(math.floor(y1 - pad_y), 0, height)
    right = _clamp(math.ceil(x2 + pad_x), 0, width)
    bottom = _clamp(math.ceil(y2 + pad_y), 0, height)
    crop_w, crop_h = right - left, bottom - top
    if min(crop_w, crop_h) < max(policy.min_side, 1):
        return None
    if max(crop_w, crop_h) / min(crop_w, crop_h) > policy.max_aspect:
        return None
    if crop_w * crop_h < policy.min_area_fraction * width * height:
        return None
    return (left, top, right, bottom)


def crop_image(image: Image.Image, box: PixelBox) -> Image.Image:
    """The pixels inside ``box`` as a new image (load() detaches it from the source)."""
    cropped = image.crop(box)
    cropped.load()
    return cropped


@dataclass
class PlannedCrop:
    """A detection the policy keeps, with its pixels cut out (not yet embedded or stored)."""

    label: str
    confidence: float
    box: DetectionBox
    pixels: Image.Image


def plan_crops(image: Image.Image, detections: Sequence[Detection], policy: CropPolicy) -> list[PlannedCrop]:
    """The crops the policy keeps for one image's detections."""
    planned = []
    for detection in detections:
        box = crop_box(detection.box, image.size, policy)
        if box is not None:
            planned.append(PlannedCrop(detection.label, detection.confidence, detection.box, crop_image(image, box)))
    return planned


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))
