"""Read-only queries over duplicate groups: the review page, the API, collapsing search results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Count, Min, Prefetch, Q, QuerySet

from indexing.models import Crop, DuplicateGroup, DuplicateMember

REVIEW_PAGE_SIZE = 50


def groups_for_review(status: str | None = DuplicateGroup.Status.OPEN) -> QuerySet[DuplicateGroup]:
    """Groups (open by default) with their members, each member's photo, dataset and active-crop count."""
    members = DuplicateMember.objects.select_related("image__dataset").annotate(
        active_crops=Count("image__crops", filter=Q(image__crops__is_active=True))
    )
    groups = DuplicateGroup.objects.prefetch_related(Prefetch("members", queryset=members.order_by("id")))
    return groups.filter(status=status) if status else groups


@dataclass(frozen=True)
class ReviewPage:
    groups: list[DuplicateGroup]
    number: int
    pages: int
    count: int

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def review_page(
    status: str | None = DuplicateGroup.Status.OPEN,
    *,
    tier: str | None = None,
    dataset_id: int | None = None,
    page: int = 1,
    size: int | None = None,
) -> ReviewPage:
    """One page of groups, most confident first: by their weakest member's score, then newest.

    ``tier``: groups with a member matched by it; ``dataset_id``: groups with a photo in it.
    A page past the last is the last page. Each group's members carry ``boxes``
    (member_boxes), the regions the verification tier matched on that photo.
    """
    wanted = DuplicateMember.objects.all()
    if tier:
        wanted = wanted.filter(tier=tier)
    if dataset_id is not None:
        wanted = wanted.filter(image__dataset_id=dataset_id)
    groups = groups_for_review(status)
    if tier or dataset_id is not None:  # a subquery, so the filter does not narrow the members aggregated below
        groups = groups.filter(pk__in=wanted.values("group_id"))
    groups = groups.annotate(confidence=Min("members__score")).order_by("-confidence", "-id")
    paginator = Paginator(groups, size or REVIEW_PAGE_SIZE)
    found = paginator.get_page(page)
    listed = list(found.object_list)
    for group in listed:
        boxes = member_boxes(group.members.all())
        for member in group.members.all():
            member.boxes = boxes.get(member.image_id, [])
    return ReviewPage(listed, found.number, paginator.num_pages, paginator.count)


def member_boxes(members: Iterable[DuplicateMember]) -> dict[int, list[dict[str, float]]]:
    """image id -> the matched regions to draw on it, in percent of the photo (left, top, width, height):
    its own match's region, and the region of it that each member verified against it matched."""
    boxes: dict[int, list[dict[str, float]]] = {}
    for member in members:
        evidence = member.evidence or {}
        if "box" in evidence:
            boxes.setdefault(member.image_id, []).append(_percent(evidence["box"]))
            if member.matched_id is not None:
                boxes.setdefault(member.matched_id, []).append(_percent(evidence["matched_box"]))
    return boxes


def _percent(box: list[float]) -> dict[str, float]:
    left, top, right, bottom = box
    return {"left": left * 100, "top": top * 100, "width": (right - left) * 100, "height": (bottom - top) * 100}


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
