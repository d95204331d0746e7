"""Curation: hide crops from search, or show them again (admin actions and the API's PATCH)."""

from __future__ import annotations

from django.db.models import QuerySet

from indexing.models import Crop


def set_crops_active(crops: QuerySet[Crop], active: bool) -> int:
    """Hide crops from search (or show them again); returns how many rows changed.

    Search re-checks ``is_active`` on every result, so this takes effect at once;
    the next index build drops inactive crops from FAISS too.
    """
    return crops.update(is_active=active)


def set_crop_active(*, crop_id: int, active: bool) -> Crop | None:
    """One crop hidden or shown again, as it is now (with its image and dataset); None if there is no such crop."""
    if not set_crops_active(Crop.objects.filter(pk=crop_id), active):
        return None
    return Crop.objects.select_related("image__dataset").get(pk=crop_id)
