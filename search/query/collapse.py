"""Fold search results to one per duplicate group: post-processing over an over-fetched list.

Photos of one duplicate group (indexing.duplicates.groups) are one picture; a search asked to
fold them fetches more candidates than it returns (COLLAPSE_OVERFETCH times as deep, up to
SEARCH_MAX_DEPTH: search.query.paging), keeps the best result of each group, and trims to ``k``. Photos in no group are
left as they are. The kept result carries its ``copies``: the best folded result of each other photo
of its group, so a page can say "+2 copies" and open them.

The pages fold by default wherever duplicate groups exist (``fold_by_default``); the API folds
only when asked (``collapse_duplicates``), so its counts and pages stay what a client asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol, TypeVar

from indexing.duplicates.selectors import group_ids_of_images
from indexing.models import DuplicateMember

COLLAPSE_OVERFETCH = 4


class HasImage(Protocol):
    image_id: int
    crop_id: int
    copies: tuple


T = TypeVar("T", bound=HasImage)


def collapse_by_group(results: Sequence[T], k: int) -> list[T]:
    """The first (best) result of each duplicate group, in order, with its group's other photos; at most ``k``."""
    groups = group_ids_of_images({r.image_id for r in results})
    kept: list[T] = []
    leader: dict[int, int] = {}  # group -> index in kept
    copies: dict[int, dict[int, T]] = {}  # group -> other photo -> its best result
    for result in results:
        group = groups.get(result.image_id)
        if group is None:
            kept.append(result)
        elif group not in leader:
            leader[group] = len(kept)
            copies[group] = {}
            kept.append(result)
        elif result.image_id != kept[leader[group]].image_id:
            copies[group].setdefault(result.image_id, result)  # results come best first
    for group, index in leader.items():
        if copies[group]:
            kept[index] = dataclasses.replace(kept[index], copies=tuple(copies[group].values()))
    return kept[:k]


def fold_by_default() -> bool:
    """Whether any duplicate group exists (one indexed LIMIT 1 query): with none, folding would only cost depth."""
    return DuplicateMember.objects.exists()
