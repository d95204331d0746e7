"""Text search ranked by CLIP similarity and description match together: reciprocal-rank fusion.

SEARCH_TEXT_FUSION=rrf: the query ranks crops twice, by CLIP (search.query.candidates) and
by its words over the descriptions (search.query.text.words), each list SEARCH_TEXT_FTS_MAX deep
(or the page's depth past it; never past SEARCH_MAX_DEPTH). Each crop scores
sum(1 / (RRF_K + rank)) over the lists it is in (rank 1 is the best), RRF_K = 60 as in
Cormack et al. (2009): a crop near the top of both lists beats one at the top of one. Ties go
to the smaller crop id, so pages stay stable.

Each result keeps ``score`` (its CLIP similarity, computed for crops found by words only)
and says which signal ranked it (``ranked_by``: vector, text, both) with its ``text_rank``
and ``fused_score``. Filters apply to both lists; ``min_score`` stays a floor on CLIP similarity.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from django.conf import settings

from indexing.vectors import nearest_ids
from search.query.budget import Work
from search.query.candidates import search_ranked
from search.query.collapse import COLLAPSE_OVERFETCH, collapse_by_group
from search.query.filters import CropFilter
from search.query.paging import Page
from search.query.results import hydrate, visible
from search.query.text.words import text_matches

MODES = ("off", "rrf")
RRF_K = 60
RANKED_BY = {(True, True): "both", (True, False): "vector", (False, True): "text"}  # (in CLIP's list, in the words')


def mode() -> str:
    value = settings.SEARCH_TEXT_FUSION
    if value not in MODES:
        raise ValueError(f"SEARCH_TEXT_FUSION is {value!r}; use one of {', '.join(MODES)}.")
    return value


def rrf(ranks: list[int | None]) -> float:
    """Reciprocal-rank fusion of one item's 1-based ranks (None: not in that list)."""
    return sum(1.0 / (RRF_K + rank) for rank in ranks if rank is not None)


def fused_page(
    query: str,
    vector: np.ndarray,
    *,
    version: str,
    k: int,
    offset: int,
    crop_filter: CropFilter,
    min_score: float | None,
    collapse: bool = False,
) -> Page:
    """One page (offset..offset+k) of the fused order, with where the next starts."""
    wanted = offset + k + 1
    # Both lists as deep as SEARCH_TEXT_FTS_MAX whatever the page: the fused order is then the same
    # for every page within that depth (a deeper page reads deeper lists, and may differ).
    fetch = wanted * (COLLAPSE_OVERFETCH if collapse else 1)
    depth = min(max(fetch, settings.SEARCH_TEXT_FTS_MAX), settings.SEARCH_MAX_DEPTH)
    work = Work.from_settings()
    by_vector = search_ranked(vector[None, :], depth, crop_filter, min_score, version=version, work=work)[0]
    by_words = text_matches(query, crop_filter=crop_filter, version=version, limit=depth)
    vector_rank = {r.crop_id: i for i, r in enumerate(by_vector.results, start=1)}
    text_rank = {crop_id: i for i, crop_id in enumerate(by_words, start=1)}
    similarity = {r.crop_id: r.score for r in by_vector.results}
    similarity.update(words_only(set(by_words) - set(similarity), vector, version, min_score))
    fused_score = {pk: rrf([vector_rank.get(pk), text_rank.get(pk)]) for pk in similarity}
    order = sorted(fused_score, key=lambda pk: (-fused_score[pk], pk))[:fetch]
    # Whole rows for the page's window alone: the vector list's are read already, the words' are read here.
    rows = {r.crop_id: r for r in by_vector.results}
    found_by_words = {pk: similarity[pk] for pk in order if pk not in rows}
    rows.update({r.crop_id: r for r in hydrate(found_by_words, crop_filter, None)})
    fused = [
        dataclasses.replace(
            rows[pk],
            ranked_by=RANKED_BY[(pk in vector_rank, pk in text_rank)],
            text_rank=text_rank.get(pk),
            text_match=round(by_words[pk], 6) if pk in by_words else None,
            fused_score=round(fused_score[pk], 6),
        )
        for pk in order
        if pk in rows  # a crop hidden or deleted since it was ranked drops out
    ]
    if collapse:
        fused = collapse_by_group(fused, wanted)
    more = len(fused) > offset + k
    return Page(fused[offset : offset + k], offset, offset + k if more else None, by_vector.truncated)


def words_only(ids: set[int], vector: np.ndarray, version: str, min_score: float | None) -> dict[int, float]:
    """CLIP similarity to the query of the crops found by their words alone: {id: score}, one SQL scan of ids."""
    if not ids:
        return {}
    scores = nearest_ids(visible(version=version).filter(pk__in=list(ids)), vector, len(ids))
    return {pk: score for pk, score in scores.items() if min_score is None or score >= min_score}
