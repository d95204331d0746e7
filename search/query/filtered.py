"""Selective filters: exact search over the few crops a filter (labels, datasets, splits) leaves, kept in memory.

An ANN index finds the nearest vectors first and filters after: when a filter keeps
1 % of the crops, the index must hand over ~100 x k candidates before k survive,
and its neighbours of the query are rarely the filter's. So a filter matching at
most SEARCH_FILTER_EXACT_MAX of the indexed crops is searched exactly instead: its
vectors are read once per index build and cached in the process: an LRU of at most
SEARCH_FILTER_CACHE entries and SEARCH_FILTER_CACHE_MB of vectors (2 KB a crop), keyed
by the build and the normalised filter (labels, datasets, splits each sorted, once), so
the same filter written another way is one entry. Eligibility is the visibility rule of
every read path (search.query.results.visible): a dataset being deleted has no crops here.
Wider filters keep the index's widening search (search.query.candidates), bounded by
SEARCH_MAX_ROUNDS and SEARCH_MAX_CANDIDATES.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from django.conf import settings

from indexing.vectors import load_active_vectors
from search.query.filters import CropFilter
from search.query.index_cache import LoadedIndex
from search.query.results import visible

_lock = threading.Lock()
_subsets: OrderedDict[tuple, tuple[np.ndarray, np.ndarray] | None] = OrderedDict()


def exact_filtered(vector: np.ndarray, k: int, crop_filter: CropFilter, loaded: LoadedIndex) -> dict[int, float] | None:
    """{id: score} of the ``k`` indexed crops the filter keeps nearest to ``vector``, or None if it keeps too many."""
    subset = filtered_subset(crop_filter, loaded)
    if subset is None:
        return None
    ids, vectors = subset
    scores = vectors @ vector
    top = np.argsort(-scores, kind="stable")[:k]
    return {int(ids[i]): float(scores[i]) for i in top}


def filtered_subset(crop_filter: CropFilter, loaded: LoadedIndex) -> tuple[np.ndarray, np.ndarray] | None:
    crop_filter = crop_filter.normalised()
    key = (loaded.build_id, crop_filter)
    with _lock:
        if key in _subsets:
            _subsets.move_to_end(key)
            return _subsets[key]
    crops = crop_filter.apply(visible(version=loaded.version).filter(pk__lte=loaded.max_crop_id))
    subset = None
    if crops[: settings.SEARCH_FILTER_EXACT_MAX + 1].count() <= settings.SEARCH_FILTER_EXACT_MAX:
        ids, vectors = load_active_vectors(crops)
        subset = (ids, vectors)
    with _lock:
        _subsets[key] = subset
        while len(_subsets) > settings.SEARCH_FILTER_CACHE or (len(_subsets) > 1 and cached_bytes() > limit()):
            _subsets.popitem(last=False)
    return subset


def cached_bytes() -> int:
    """The vectors and ids the cache holds (call under the lock)."""
    return sum(ids.nbytes + vectors.nbytes for ids, vectors in filter(None, _subsets.values()))


def limit() -> int:
    return settings.SEARCH_FILTER_CACHE_MB << 20


def cache_stats() -> dict[str, int]:
    """How many filters the cache holds and their bytes (tests, logs)."""
    with _lock:
        return {"entries": len(_subsets), "bytes": cached_bytes()}


def forget() -> None:
    with _lock:
        _subsets.clear()
