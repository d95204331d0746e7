"""Read-only queries over duplicate groups: the review page, the API, collapsing search results."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Prefetch, Q, QuerySet

from indexing.models import Crop, DuplicateGroup, DuplicateMember

REVIEW_PAGE_SIZE = 50


def groups_for_review(status: str | None = DuplicateGroup.Status.OPEN) -> QuerySet[DuplicateGroup]:
    """Groups (open by default) with their members, each member's photo, dataset and active-crop count."""
    members = DuplicateMember.objects.select_related("image__dataset").annotate(
        active_crops=Count("image__crops", filter=Q(image__crops__is_active=True))
    )
    groups = DuplicateGroup.objects.prefetch_related(Prefetch("members", queryset=members.order_by("id")))
    return groups.filter(status=status) if status else groups


def group_for_review(group_id: int) -> DuplicateGroup | None:
    return groups_for_review(status=None).filter(pk=group_id).first()


def group_ids_of_images(image_ids: Iterable[int]) -> dict[int, int]:
    """image id -> its duplicate group, for the photos that are in one."""
    rows = DuplicateMember.objects.filter(image_id__in=list(image_ids)).values_list("image_id", "group_id")
    return dict(rows)


def group_same_object(found: list[tuple[Crop, float]]) -> list[list[dict]]:
    """ "The same object elsewhere" (indexing.duplicates.matching.same_object_elsewhere: crops, best first), grouped.

    Crops whose photos are in one duplicate group form one group (one picture seen several
    times); every other photo is a group of its own. Best group first.
    """
    photo_groups = group_ids_of_images({row.image_id for row, _ in found})
    grouped: dict[tuple[str, int], list[dict]] = {}
    for row, score in found:  # best first, so each group's best crop leads it
        group = photo_groups.get(row.image_id)
        key = ("group", group) if group is not None else ("image", row.image_id)
        grouped.setdefault(key, []).append({"crop": row, "score": score, "duplicate_group": group})
    return list(grouped.values())
