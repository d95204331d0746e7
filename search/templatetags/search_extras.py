"""Boxes in source pixels -> percentages, so they sit right on a scaled image; labels in the reader's language."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext

from search import progress
from search.label_names import display_name

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
        percent_box(obj.box, image_search.width, image_search.height, f"{i}. {display_name(obj.label)}")
        for i, obj in enumerate(image_search.objects, start=1)
    ]


@register.simple_tag
def crop_overlay_boxes(crop, image) -> list[dict]:
    """The crop's box drawn over its source photo (crop page)."""
    if not image.width or not image.height:
        return []
    return [percent_box(crop.box, image.width, image.height, display_name(crop.label))]


@register.simple_tag
def pick_boxes(image_search) -> list[dict]:
    """query_boxes with each box's source pixels (``source``), for query by region (results page).

    Every object found is drawn, the searched and the not searched (``searched``) alike.
    """
    if image_search.region:
        obj = image_search.objects[0]
        box = percent_box(obj.box, image_search.width, image_search.height, gettext("region"))
        return [{**box, "source": source(obj.box), "searched": True}]
    return [
        {**box, "source": source(obj.box), "searched": obj.searched}
        for box, obj in zip(query_boxes(image_search), image_search.objects, strict=False)
    ]


@register.simple_tag
def photo_match_boxes(photo, photo_search) -> list[dict]:
    """A matching photo's best crop per query object, numbered as the query's objects are."""
    if not photo.width or not photo.height:
        return []
    return [
        percent_box(m.result.box, photo.width, photo.height, f"{m.query_index + 1}. {display_name(m.result.label)}")
        for m in photo.matches
    ]


def source(box) -> str:
    return ",".join(f"{v:g}" for v in box)


@register.filter
def label_name(label: str) -> str:
    """A stored label (the detector's English class name) in the reader's language."""
    return display_name(label)


@register.filter
def status_name(status: str) -> str:
    """A job's or model change's stored status in the reader's language."""
    return progress.status_name(status)
