"""Selective filters: exact search over the few crops a filter (labels, datasets, splits) leaves, kept in memory.

An ANN index finds the nearest vectors first and filters after: when a filter keeps
1 % of the crops, the index must hand over ~100 x k candidates before k survive,
and its neighbours of the query are rarely the filter's. So a filter matching at
most SEARCH_FILTER_EXACT_MAX of the indexed crops is searched exactly instead: its
vectors are read once per index build and cached in the process (LRU of
SEARCH_FILTER_CACHE entries: at most 2 KB x SEARCH_FILTER_EXACT_MAX each). Wider
filters keep the index's widening search (search.candidates), which finds k within
a few rounds at their selectivity.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from django.conf import settings

from indexing.models import Crop
from indexing.vectors import load_active_vectors
from search.filters import CropFilter
from search.index_cache import LoadedIndex

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
    key = (loaded.build_id, crop_filter)
    with _lock:
        if key in _subsets:
            _subsets.move_to_end(key)
            return _subsets[key]
    indexed = Crop.objects.filter(is_active=True, pk__lte=loaded.max_crop_id, embedder_version=loaded.version)
    crops = crop_filter.apply(indexed)
    subset = None
    if crops[: settings.SEARCH_FILTER_EXACT_MAX + 1].count() <= settings.SEARCH_FILTER_EXACT_MAX:
        ids, vectors = load_active_vectors(crops)
        subset = (ids, vectors)
    with _lock:
        _subsets[key] = subset
        while len(_subsets) > settings.SEARCH_FILTER_CACHE:
            _subsets.popitem(last=False)
    return subset


def forget() -> None:
    with _lock:
        _subsets.clear()
