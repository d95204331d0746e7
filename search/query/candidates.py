"""Vector search: the served FAISS index, plus the crops it does not hold yet ranked in SQL.

Every query has two sources of candidates:
- the newest ready FAISS build (memory-mapped, search.query.index_cache);
- its tail: active crops stored after the build, or shown again since it started
  (indexing.ann.builds.tail), ranked by pgvector in PostgreSQL with the same filters, so
  a crop is findable the moment it is stored or shown again, and nothing is read
  into Python but ids and scores.
Candidates are then checked against PostgreSQL (search.query.results: one visibility rule),
so a hidden or deleted crop still in the index is never returned. With no build yet,
PostgreSQL ranks every crop exactly.

The work is bounded (search.query.budget): a filtered search widens its FAISS fetch at most
SEARCH_MAX_ROUNDS times and checks at most SEARCH_MAX_CANDIDATES ids per request, each
id once; an answer cut short by a cap is marked ``truncated``.

Vectors are compared only with vectors of the same embedder ``version``: the build is
the newest of that version, and the SQL steps keep that version's crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexing.ann import builds
from indexing.ann import faiss_index as ann
from indexing.vectors import exact_nearest, nearest_ids
from search.query.budget import Work
from search.query.filtered import exact_filtered
from search.query.filters import NO_FILTER, CropFilter
from search.query.index_cache import LoadedIndex, index_holder
from search.query.results import SearchResult, active_crops, hydrate, to_result, visible, visible_ids


@dataclass(frozen=True)
class Ranked:
    results: list[SearchResult]  # best first, at most k
    truncated: bool = False  # a cap (search.query.budget) stopped the search before k were found


def search_vectors(
    vectors: np.ndarray,
    k: int,
    crop_filter: CropFilter | None,
    min_score: float | None,
    *,
    version: str,
    work: Work | None = None,
) -> list[list[SearchResult]]:
    """For each query vector (made by embedder ``version``), the ``k`` best visible crops of that embedder.

    The crop filter and score floor are applied. ``work`` counts (and caps) what the
    search touches; pass one to read the counts or the ``truncated`` flag afterwards.
    """
    return [ranked.results for ranked in search_ranked(vectors, k, crop_filter, min_score, version=version, work=work)]


def search_ranked(
    vectors: np.ndarray,
    k: int,
    crop_filter: CropFilter | None,
    min_score: float | None,
    *,
    version: str,
    work: Work | None = None,
) -> list[Ranked]:
    """search_vectors, with each query's ``truncated`` flag."""
    work = work if work is not None else Work.from_settings()
    loaded = index_holder.current(version=version)
    crop_filter = crop_filter or NO_FILTER
    vectors = np.asarray(vectors, dtype=np.float32)
    found = []
    for i, vector in enumerate(vectors):
        if loaded:
            allowance = work.allowance(len(vectors) - i)
            found.append(search_faiss(vector, k, crop_filter, min_score, loaded, work, allowance))
        else:
            found.append(Ranked(search_pgvector(vector, k, crop_filter, min_score, version, work)))
        work.truncated = work.truncated or found[-1].truncated
    return found


def search_pgvector(
    vector: np.ndarray, k: int, crop_filter: CropFilter, min_score, version: str, work: Work
) -> list[SearchResult]:
    """No build of ``version`` yet: PostgreSQL ranks that version's crops exactly (k rows come back)."""
    crops = crop_filter.apply(active_crops(version=version))
    results = [to_result(crop, 1.0 - crop.distance) for crop in exact_nearest(crops, vector, k)]
    work.rows += len(results)
    return [r for r in results if min_score is None or r.score >= min_score]


def search_faiss(
    vector: np.ndarray, k: int, crop_filter: CropFilter, min_score, loaded: LoadedIndex, work: Work, allowance: int
) -> Ranked:
    """The loaded build's candidates + the tail's, checked against the database, within ``allowance`` candidates.

    Filters (label, dataset, hidden crops) can discard index candidates, so fetch more
    than ``k`` and widen (x4) until ``k`` survive or the index holds no more. Stopped
    before that by a cap (``allowance`` candidates, SEARCH_MAX_ROUNDS rounds) or by the
    index's reach (a wider fetch that found no more), the answer is marked truncated. Each round
    checks only the ids it has not seen, reading ids alone; whole rows are read for the
    best ``k`` survivors only.
    """
    tail = tail_candidates(vector, k, crop_filter, loaded)
    work.rows += len(tail)
    exact = exact_filtered(vector, k + 8, crop_filter, loaded) if crop_filter.narrows else None
    if exact is not None:  # a selective filter: its few crops ranked exactly
        work.candidates += len(exact)
        return Ranked(best_rows({**exact, **tail}, k, crop_filter, min_score, work))
    ntotal = max(loaded.index.ntotal, 1)
    fetch = min(k * 4 if crop_filter.narrows else k + 8, ntotal, allowance)
    checked: set[int] = set()
    survivors: dict[int, float] = dict(tail)
    rounds = reached_before = 0
    while True:
        scores, ids = ann.search(loaded.index, vector, fetch)
        rounds += 1
        work.rounds += 1
        new = {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0 and int(i) not in checked}
        checked.update(new)
        work.candidates += len(new)
        survivors.update({i: new[i] for i in visible_ids(new, crop_filter, version=loaded.version)})
        passing = [s for s in survivors.values() if min_score is None or s >= min_score]
        below_floor = min_score is not None and len(scores[0]) and float(min(scores[0])) < min_score
        if len(passing) >= k or fetch >= ntotal or below_floor:
            return Ranked(best_rows(survivors, k, crop_filter, min_score, work))
        # A wider fetch that brought no more ids than the last: the index's search settings reach
        # no further (an IVF probes the same lists for any k; an HNSW's beam widens to k: ann.search).
        reached = int((ids[0] >= 0).sum())
        reached_all, reached_before = reached <= reached_before, reached
        if reached_all or rounds >= work.max_rounds or fetch >= allowance:
            return Ranked(best_rows(survivors, k, crop_filter, min_score, work), truncated=True)
        fetch = min(fetch * 4, ntotal, allowance)


def best_rows(candidates: dict[int, float], k: int, crop_filter: CropFilter, min_score, work: Work) -> list:
    """Whole rows for the ``k`` best candidates (still visible, passing the filter and floor), best first."""
    best = sorted(candidates.items(), key=lambda item: (-item[1], item[0]))
    best = [(i, s) for i, s in best if min_score is None or s >= min_score][: k + 8]  # a few spare: rows may go
    results = hydrate(dict(best), crop_filter, min_score)[:k]
    work.rows += len(results)
    return results


def tail_candidates(vector: np.ndarray, k: int, crop_filter: CropFilter, loaded: LoadedIndex) -> dict[int, float]:
    """The ``k`` best visible crops the loaded build does not hold, ranked by pgvector: {id: score}."""
    outside = builds.crops_outside(max_crop_id=loaded.max_crop_id, built_at=loaded.built_at, version=loaded.version)
    crops = crop_filter.apply(visible(outside))
    return nearest_ids(crops, vector, k)
