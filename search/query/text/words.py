"""Full-text search over the crops' descriptions: PostgreSQL's ``websearch_to_tsquery`` on a GIN-indexed tsvector.

The query is read the way a search box is (``websearch``: quoted phrases, ``or``,
``-word``), with the same text search configuration as the column (indexing.models.
SEARCH_CONFIG), so the index is used. The work is bounded twice: at most
SCAN_FACTOR x ``limit`` matching descriptions are read, and of those passing the same
visibility rule and filters as the vector search, the best ``limit`` crops by ``ts_rank``
come back. Under a filter passed by few crops, the read matches may hold fewer than
``limit`` of them: the words' list is then shorter, never slower.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F

from indexing.models import SEARCH_CONFIG, Description
from search.query.filters import CropFilter
from search.query.results import visible

# Matching descriptions ranked per query, as a multiple of the crops returned: a common word
# matches most of a collection, and ranking every match would grow with it.
SCAN_FACTOR = 10


def text_query(query: str) -> SearchQuery:
    return SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)


def text_matches(query: str, *, crop_filter: CropFilter, version: str, limit: int) -> dict[int, float]:
    """The crops (of embedder ``version``, visible, passing the filter) whose words best match: {id: ts_rank}.

    Best first, at most ``limit``; a crop described by several models counts its best description.
    """
    if limit <= 0:
        return {}
    tsquery = text_query(query)
    # The matches first (a GIN bitmap scan, cut at ``scan``), then the visibility rule and filters
    # over those few: with the join first, PostgreSQL walked every visible crop to probe its words.
    matching = Description.objects.filter(search=tsquery).values("pk")[: limit * SCAN_FACTOR]
    eligible = crop_filter.apply(visible(version=version)).values("pk")
    ranked = (
        Description.objects.filter(pk__in=matching, crop__in=eligible)
        .annotate(rank=SearchRank(F("search"), tsquery))
        .order_by("-rank", "crop_id")
        .values_list("crop_id", "rank")
    )
    best: dict[int, float] = {}
    for crop_id, rank in ranked:
        best.setdefault(crop_id, float(rank))
        if len(best) == limit:
            break
    return best
