"""Collapse search results to one per duplicate group: post-processing over an over-fetched list.

Photos of one duplicate group (indexing.duplicate_groups) are one picture; a search asked to
collapse them fetches more candidates than it returns (COLLAPSE_OVERFETCH times as deep, up to
SEARCH_MAX_DEPTH: search.paging), keeps the best result of each group, and trims to ``k``. Photos in no group are
left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from indexing.duplicate_selectors import group_ids_of_images

COLLAPSE_OVERFETCH = 4


class HasImage(Protocol):
    image_id: int
    crop_id: int


T = TypeVar("T", bound=HasImage)


def collapse_by_group(results: Sequence[T], k: int) -> list[T]:
    """The first (best) result of each duplicate group, in order; at most ``k``."""
    groups = group_ids_of_images({r.image_id for r in results})
    seen: set[int] = set()
    kept: list[T] = []
    for result in results:
        group = groups.get(result.image_id)
        if group is not None:
            if group in seen:
                continue
            seen.add(group)
        kept.append(result)
    return kept[:k]
