"""Query by region: a box on the query photo, searched alone, without running the detector.

The box is in source pixels (the upright photo, as decoded). It is cropped the way
indexing crops a detection (padded by the crop policy, search.query.image.photos' plan_crops), so
the box of a detected object gives exactly that object's crop, and any other box its
own padded crop. A box the policy would not crop gets a 400 that says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from django.utils.translation import gettext as _
from PIL import Image

from indexing.vision.crops import CropPolicy, DetectionBox, crop_box, crop_image
from search.query.errors import SearchInputError
from search.query.validation import check_box_text


@dataclass
class Region:
    box: DetectionBox  # as asked, in source pixels
    pixels: Image.Image  # the padded crop that is embedded


def parse_box(raw: str | list | tuple | None) -> DetectionBox | None:
    """``"x1,y1,x2,y2"`` (or four numbers) as floats; None when no box was given."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        check_box_text(raw)
    parts = raw.split(",") if isinstance(raw, str) else list(raw)
    try:
        values = tuple(float(part) for part in parts)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise SearchInputError(_("box must be four numbers x1,y1,x2,y2 in the photo's pixels, e.g. box=10,20,200,180."))
    return values  # type: ignore[return-value]


def check_box(box: DetectionBox, size: tuple[int, int]) -> None:
    """Refuse a box that is inverted or leaves the photo."""
    x1, y1, x2, y2 = box
    width, height = size
    if x2 <= x1 or y2 <= y1:
        raise SearchInputError(
            _("The box %(box)s is inverted or empty: x2 must be greater than x1 and y2 greater than y1.")
            % {"box": fmt(box)}
        )
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise SearchInputError(
            _("The box %(box)s is outside the photo, which is %(width)dx%(height)d pixels.")
            % {"box": fmt(box), "width": width, "height": height}
        )


def plan_region(image: Image.Image, box: DetectionBox, policy: CropPolicy | None = None) -> Region:
    """The padded crop for ``box``, held to the policy's minimum size as indexed crops are.

    The size is that of the padded crop, as in indexing, so every detected object's box
    passes. A drawn box may be of any shape: the aspect limit is there to drop the
    detector's slivers, not what a person chose.
    """
    policy = policy or CropPolicy.from_settings()
    check_box(box, image.size)
    width, height = image.size
    left, top, right, bottom = crop_box(
        box, image.size, replace(policy, max_aspect=math.inf, min_side=1, min_area_fraction=0)
    )
    crop_w, crop_h = right - left, bottom - top
    if min(crop_w, crop_h) < policy.min_side:
        raise SearchInputError(
            _(
                "The box %(box)s is too small: padded, it is %(width)sx%(height)s pixels, and a region must be at "
                "least %(min)s pixels on each side (CROP_MIN_SIDE)."
            )
            % {"box": fmt(box), "width": crop_w, "height": crop_h, "min": policy.min_side}
        )
    if crop_w * crop_h < policy.min_area_fraction * width * height:
        raise SearchInputError(
            _("The box %(box)s is too small: it covers less than %(fraction)s of the photo (CROP_MIN_AREA_FRACTION).")
            % {"box": fmt(box), "fraction": f"{policy.min_area_fraction:.2%}"}
        )
    return Region(box, crop_image(image, (left, top, right, bottom)))


def fmt(box: DetectionBox) -> str:
    return ",".join(f"{v:g}" for v in box)
