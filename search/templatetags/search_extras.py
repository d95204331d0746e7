"""Boxes in source pixels -> percentages, so they sit right on a scaled image."""

from __future__ import annotations

from django import template

register = template.Library()


def percent_box(box, width: float, height: float, caption: str) -> dict:
    x1, y1, x2, y2 = box
    return {
        "left": round(100 * x1 / width, 3),
        "top": round(100 * y1 / height, 3),
        "width": round(100 * (x2 - x1) / width, 3),
        "height": round(100 * (y2 - y1) / height, 3),
        "caption": caption,
    }


@register.simple_tag
def query_boxes(image_search) -> list[dict]:
    """The objects found in a query photo, numbered, drawn over it (results page)."""
    if image_search.whole_image:
        return []
    return [
        percent_box(obj.box, image_search.width, image_search.height, f"{i}. {obj.label}")
        for i, obj in enumerate(image_search.objects, start=1)
    ]


@register.simple_tag
def crop_overlay_boxes(crop, image) -> list[dict]:
    """The crop's box drawn over its source photo (crop page)."""
    if not image.width or not image.height:
        return []
    return [percent_box(crop.box, image.width, image.height, crop.label)]
