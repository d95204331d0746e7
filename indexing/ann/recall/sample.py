"""A build's own recall sample: queries drawn from the collection, their exact neighbours, a measurement.

The table ``bench/ann.py`` wrote says what recall a configuration reaches on the
bench's data; a collection of another shape (wider clusters, a few dominant
directions, near-copies) can fall well short of it. So every build measures itself
on its own vectors (indexing.ann.recall.measure) with two kinds of query:

- held-out: stored vectors left out of the index while it is measured (added after),
  the "new photo of a known kind of object" case, and the hard one;
- near-copies: stored vectors plus light noise (cosine ≈ 0.99), the re-upload case.

Exact neighbours come from a flat scan of the indexed vectors in batches (on the GPU
when faiss-gpu sees one): its cost is queries x n x d, about 1 s per million vectors
for 300 queries on two cores, and is timed (``truth_seconds``).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import faiss
import numpy as np

K = 10
# Base rows per flat-scan batch: 300 queries x 65536 scores stay in cache-sized blocks.
SCAN_BATCH = 65_536
# Single-query latency is timed on at most this many queries (a slow Flat scan stays bounded).
LATENCY_QUERIES = 200
# Each query is timed this often and its fastest run kept, as bench/ann.py times the table's rows:
# other processes pre-empting a search on a shared host do not pass for its cost.
LATENCY_REPEATS = 3
# Noise of a near-copy query: per-dimension sigma NEAR_COPY_NOISE / sqrt(d), cosine ≈ 0.99.
NEAR_COPY_NOISE = 0.15


@dataclass
class RecallSample:
    """Queries with their exact top-``K`` ids; ``held`` of them (the first) are held-out stored vectors."""

    queries: np.ndarray
    truth: np.ndarray
    held: int
    truth_seconds: float


@dataclass
class Measurement:
    recall: float
    recall_held: float
    recall_copies: float
    p50_ms: float
    p95_ms: float
    queries: int
    held: int


def hold_out(vectors: np.ndarray, ids: np.ndarray, *, count: int, seed: int = 0) -> int:
    """Move ``count`` random rows to the end of ``vectors`` and ``ids`` (in place); return how many were moved.

    The index is built over the rows before them, measured with them as queries, and
    then given them too (so every vector ends up indexed).
    """
    n = len(ids)
    count = int(min(count, max(n // 10, 0)))
    if count <= 0:
        return 0
    rows = np.random.default_rng(seed).choice(n, size=count, replace=False)
    tail = np.arange(n - count, n)
    # Rows already in the tail stay; the others swap with tail rows not chosen.
    moving = np.setdiff1d(rows, tail)
    free = np.setdiff1d(tail, rows)
    vectors[np.concatenate([moving, free])] = vectors[np.concatenate([free, moving])]
    ids[np.concatenate([moving, free])] = ids[np.concatenate([free, moving])]
    return count


def near_copies(vectors: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(vectors), size=min(count, len(vectors)), replace=False))
    noise = rng.standard_normal((len(rows), vectors.shape[1])).astype(np.float32) * (
        NEAR_COPY_NOISE / math.sqrt(vectors.shape[1])
    )
    copies = vectors[rows] + noise
    return (copies / np.linalg.norm(copies, axis=1, keepdims=True)).astype(np.float32)


def draw_sample(
    base: np.ndarray, base_ids: np.ndarray, held_out: np.ndarray, *, copies: int, use_gpu: bool = False
) -> RecallSample:
    """``held_out`` vectors plus ``copies`` near-copies of ``base`` rows, with exact neighbours among ``base``."""
    queries = np.ascontiguousarray(np.vstack([held_out, near_copies(base, copies)]), dtype=np.float32)
    started = time.perf_counter()
    rows = exact_neighbours(base, queries, K, use_gpu=use_gpu)
    return RecallSample(
        queries=queries,
        truth=np.asarray(base_ids)[rows],
        held=len(held_out),
        truth_seconds=time.perf_counter() - started,
    )


def exact_neighbours(base: np.ndarray, queries: np.ndarray, k: int, *, use_gpu: bool = False) -> np.ndarray:
    """Row numbers of each query's exact top-``k`` by inner product, scanning ``base`` in batches.

    ``base`` may be any array-like of rows (a memory map, float16): each batch is read
    as float32 on its own, so the scan never holds more than one batch converted.
    """
    k = min(k, len(base))
    if use_gpu and hasattr(faiss, "knn_gpu") and faiss.get_num_gpus() > 0:
        resources = faiss.StandardGpuResources()
        scan = lambda q, b: faiss.knn_gpu(resources, q, b, k, metric=faiss.METRIC_INNER_PRODUCT)  # noqa: E731
    else:
        scan = lambda q, b: faiss.knn(q, b, k, metric=faiss.METRIC_INNER_PRODUCT)  # noqa: E731
    heap = faiss.ResultHeap(len(queries), k, keep_max=True)
    for start in range(0, len(base), SCAN_BATCH):
        batch = np.ascontiguousarray(base[start : start + SCAN_BATCH], dtype=np.float32)
        scores, rows = scan(queries, batch)
        heap.add_result(scores, rows + start)
    heap.finalize()
    return heap.I


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per query: the share of its exact top-k the index returned."""
    k = truth.shape[1]
    return np.array([len(set(f[:k]) & set(t)) / k for f, t in zip(found, truth, strict=True)])


def measure(
    index: faiss.Index, sample: RecallSample, *, search_threads: int = 1, valid_ids: np.ndarray | None = None
) -> Measurement:
    """Recall@K of ``index`` on ``sample`` (all threads, one batch), and single-query latency.

    Latency is timed one query at a time with ``search_threads`` threads, as the web
    process searches, on at most LATENCY_QUERIES queries, fastest of LATENCY_REPEATS runs
    each. ``valid_ids``: the ids the truth was computed over; others the index still
    holds (hidden crops, which search filters out) are skipped, as search skips them.
    """
    all_threads = os.cpu_count() or 1
    faiss.omp_set_num_threads(all_threads)
    if valid_ids is None:
        _, found = index.search(sample.queries, K)
    else:
        _, wide = index.search(sample.queries, 2 * K)
        found = np.array([row[np.isin(row, valid_ids)][:K] for row in wide], dtype=object)
    hits = recall_at_k(found, sample.truth)
    faiss.omp_set_num_threads(search_threads)
    step = max(1, len(sample.queries) // LATENCY_QUERIES)
    seconds = []
    for query in sample.queries[::step]:
        best = float("inf")
        for _ in range(LATENCY_REPEATS):
            started = time.perf_counter()
            index.search(query[None, :], K)
            best = min(best, time.perf_counter() - started)
        seconds.append(best)
    faiss.omp_set_num_threads(all_threads)
    p50, p95 = np.percentile(np.asarray(seconds) * 1000, [50, 95])
    held = sample.held
    return Measurement(
        recall=float(hits.mean()),
        recall_held=float(hits[:held].mean()) if held else float("nan"),
        recall_copies=float(hits[held:].mean()) if held < len(hits) else float("nan"),
        p50_ms=float(p50),
        p95_ms=float(p95),
        queries=len(hits),
        held=held,
    )
