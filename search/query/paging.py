"""Pages past the first k results, in one stable order: score (best first), then crop id.

The core (search_vectors) answers "the n best"; a page at ``offset`` asks it for
offset + k + 1 and slices, so the next page starts exactly where this one ended and
the extra result says whether there is one. How deep a query may page is bounded by
SEARCH_MAX_DEPTH: each page re-runs the search to that depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils.translation import gettext as _

from search.query.budget import Work
from search.query.candidates import search_ranked
from search.query.collapse import COLLAPSE_OVERFETCH, collapse_by_group
from search.query.errors import SearchInputError
from search.query.filters import CropFilter


@dataclass(frozen=True)
class Page:
    results: list  # list[SearchResult], this page's, best first
    offset: int
    next_offset: int | None  # None on the last page
    truncated: bool = False  # the search hit a cap (search.query.budget) before it found enough: say so


def validate_offset(offset: int | None, k: int) -> int:
    offset = 0 if offset is None else offset
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise SearchInputError(_("offset must be a whole number, 0 or more."))
    if offset + k > settings.SEARCH_MAX_DEPTH:
        raise SearchInputError(
            _(
                "offset + k is %(depth)d; results can be paged to the %(max)dth (SEARCH_MAX_DEPTH). "
                "Narrow the query with filters or a minimum score instead."
            )
            % {"depth": offset + k, "max": settings.SEARCH_MAX_DEPTH}
        )
    return offset


def stable_order(results: list) -> list:
    return sorted(results, key=lambda r: (-r.score, r.crop_id))


def pages(
    vectors: np.ndarray,
    *,
    version: str,
    k: int,
    offset: int,
    crop_filter: CropFilter | None,
    min_score: float | None,
    collapse: bool = False,
    work: Work | None = None,
) -> list[Page]:
    """One page per query vector: results offset..offset+k of the stable order.

    With ``collapse``, the order is that of one result per duplicate group (search.query.collapse):
    the search goes COLLAPSE_OVERFETCH times deeper to fill the page.
    """
    wanted = offset + k + 1
    depth = min(wanted * (COLLAPSE_OVERFETCH if collapse else 1), settings.SEARCH_MAX_DEPTH)
    found = []
    for searched in search_ranked(vectors, depth, crop_filter, min_score, version=version, work=work):
        ranked = stable_order(searched.results)
        if collapse:
            ranked = collapse_by_group(ranked, wanted)
        more = len(ranked) > offset + k
        found.append(Page(ranked[offset : offset + k], offset, offset + k if more else None, searched.truncated))
    return found
