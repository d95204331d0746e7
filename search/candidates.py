"""Vector search: the served FAISS index, plus the crops it does not hold yet ranked in SQL.

Every query has two sources of candidates:
- the newest ready FAISS build (memory-mapped, search.index_cache);
- its tail: active crops stored after the build, or shown again since it started
  (indexing.builds.tail), ranked by pgvector in PostgreSQL with the same filters, so
  a crop is findable the moment it is stored or shown again, and nothing is read
  into Python but ids and scores.
Candidates are then checked against PostgreSQL (search.results.hydrate), so a hidden
or deleted crop still in the index is never returned. With no build yet, PostgreSQL
ranks every crop exactly.

Vectors are compared only with vectors of the same embedder ``version``: the build is
the newest of that version, and the SQL steps keep that version's crops.
"""

from __future__ import annotations

import numpy as np

from indexing import ann, builds
from indexing.vectors import exact_nearest, nearest_ids
from search.filtered import exact_filtered
from search.filters import NO_FILTER, CropFilter
from search.index_cache import LoadedIndex, index_holder
from search.results import SearchResult, active_crops, hydrate, to_result


def search_vectors(
    vectors: np.ndarray, k: int, crop_filter: CropFilter | None, min_score: float | None, *, version: str
) -> list[list[SearchResult]]:
    """For each query vector (made by embedder ``version``), the ``k`` best active crops of that embedder.

    The crop filter and score floor are applied.
    """
    loaded = index_holder.current(version=version)
    crop_filter = crop_filter or NO_FILTER
    return [
        search_faiss(vector, k, crop_filter, min_score, loaded)
        if loaded
        else search_pgvector(vector, k, crop_filter, min_score, version)
        for vector in np.asarray(vectors, dtype=np.float32)
    ]


def search_pgvector(vector: np.ndarray, k: int, crop_filter: CropFilter, min_score, version: str) -> list[SearchResult]:
    crops = crop_filter.apply(active_crops().filter(embedder_version=version))
    results = [to_result(crop, 1.0 - crop.distance) for crop in exact_nearest(crops, vector, k)]
    return [r for r in results if min_score is None or r.score >= min_score]


def search_faiss(
    vector: np.ndarray, k: int, crop_filter: CropFilter, min_score, loaded: LoadedIndex
) -> list[SearchResult]:
    """The loaded build's candidates + the tail's, then checked against the database.

    Filters (label, hidden crops) can discard index candidates, so fetch more than
    ``k`` and widen until ``k`` survive or the index has nothing more to give.
    """
    tail = tail_candidates(vector, k, crop_filter, loaded)
    exact = exact_filtered(vector, k + 8, crop_filter, loaded) if crop_filter.narrows else None
    if exact is not None:  # a selective filter: its few crops ranked exactly
        return hydrate({**exact, **tail}, crop_filter, min_score)[:k]
    fetch = k * 4 if crop_filter.narrows else k + 8
    while True:
        scores, ids = ann.search(loaded.index, vector, min(fetch, max(loaded.index.ntotal, 1)))
        candidates = {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}
        candidates.update(tail)
        results = hydrate(candidates, crop_filter, min_score)
        exhausted = fetch >= loaded.index.ntotal
        if len(results) >= k or exhausted or (min_score is not None and min(scores[0]) < min_score):
            return results[:k]
        fetch *= 4


def tail_candidates(vector: np.ndarray, k: int, crop_filter: CropFilter, loaded: LoadedIndex) -> dict[int, float]:
    """The ``k`` best crops the loaded build does not hold, ranked by pgvector: {id: score}."""
    outside = builds.crops_outside(max_crop_id=loaded.max_crop_id, built_at=loaded.built_at, version=loaded.version)
    crops = crop_filter.apply(outside)
    return nearest_ids(crops, vector, k)
