"""Full-text search over the crops' descriptions: PostgreSQL's ``websearch_to_tsquery`` on a GIN-indexed tsvector.

The query is read the way a search box is (``websearch``: quoted phrases, ``or``,
``-word``), with the same text search configuration as the column (indexing.models.
SEARCH_CONFIG), so the index is used. The work is bounded twice: at most
SCAN_FACTOR x ``limit`` matching descriptions are read, and of those passing the same
visibility rule and filters as the vector search, the best ``limit`` crops by ``ts_rank``
come back. A photo's description (DESCRIPTIONS_WHOLE_PHOTOS) counts as words of each of its
crops. Under a filter passed by few crops, the read matches may hold fewer than
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

    Best first, at most ``limit``. A crop's words are its own descriptions and its photo's
    (DESCRIPTIONS_WHOLE_PHOTOS): it counts the best of them, so a photo described as "a wedding
    on a beach" brings up each of its crops for "beach".
    """
    if limit <= 0:
        return {}
    tsquery = text_query(query)
    # The matches first (a GIN bitmap scan, cut at ``scan``), then the visibility rule and filters
    # over those few: with the join first, PostgreSQL walked every visible crop to probe its words.
    matching = Description.objects.filter(search=tsquery).values("pk")[: limit * SCAN_FACTOR]
    eligible = crop_filter.apply(visible(version=version))
    ranked = (
        Description.objects.filter(pk__in=matching, crop__in=eligible.values("pk"))
        .annotate(rank=SearchRank(F("search"), tsquery))
        .order_by("-rank", "crop_id")
        .values_list("crop_id", "rank")
    )
    best: dict[int, float] = {}
    for crop_id, rank in ranked:
        best.setdefault(crop_id, float(rank))
        if len(best) == limit:
            break
    if Description.objects.filter(image__isnull=False).exists():  # an index probe; none: no second scan
        photos: dict[int, float] = {}
        by_photo = (
            Description.objects.filter(pk__in=matching, image__isnull=False)
            .annotate(rank=SearchRank(F("search"), tsquery))
            .order_by("-rank", "image_id")
            .values_list("image_id", "rank")
        )
        for image_id, rank in by_photo[:limit]:
            photos.setdefault(image_id, float(rank))
        # A photo's words bring its crops, at most as many rows as the matches read (bounded).
        brought = eligible.filter(image_id__in=list(photos)).order_by().values_list("pk", "image_id")
        for pk, image_id in brought[: limit * SCAN_FACTOR] if photos else ():
            best[pk] = max(best.get(pk, 0.0), photos[image_id])
    order = sorted(best, key=lambda pk: (-best[pk], pk))[:limit]
    return {pk: best[pk] for pk in order}
