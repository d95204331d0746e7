"""Builds measure recall on the collection's own vectors and tune their knobs to the target (real FAISS)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from indexing.ann import faiss_index as ann
from indexing.ann.recall import measure as build_recall
from indexing.ann.recall.sample import K, exact_neighbours, recall_at_k

DIM = 512


def clustered(count: int, seed: int, clusters: int = 64, spread: float = 0.7) -> np.ndarray:
    """Fixed centres with wide isotropic spread: a hard case for a graph searched narrowly."""
    centres = np.random.default_rng(1234).standard_normal((clusters, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    rows = centres[rng.integers(0, clusters, count)]
    rows = rows + rng.standard_normal((count, DIM)).astype(np.float32) * (spread / math.sqrt(DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def recall_settings(settings):
    settings.ANN_RECALL_TARGET = 0.95
    settings.ANN_RECALL_SAMPLE = 300
    settings.ANN_RECALL_MIN_SIZE = 1000
    settings.ANN_RECALL_MAX_P95_MS = 50.0
    settings.ANN_RECALL_MAX_KINDS = 3
    return settings


@pytest.fixture(scope="module")
def hard() -> tuple[np.ndarray, np.ndarray]:
    return clustered(12_000, seed=0), np.arange(10_000, 22_000, dtype=np.int64)


def fresh_recall(index, vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> np.ndarray:
    truth = ids[exact_neighbours(vectors, queries, K)]
    _, found = index.search(queries, K)
    return recall_at_k(found, truth)


def test_a_hard_collection_gets_efsearch_raised_until_its_sample_reaches_the_target(hard, recall_settings):
    vectors, ids = hard
    start = ann.IndexConfig("HNSW16", {"efSearch": 16})
    index, measured = build_recall.build_tuned(vectors.copy(), ids.copy(), start, use_gpu=False, forced=True)
    steps = measured.report["attempts"][0]["steps"]
    assert steps[0]["params"]["efSearch"] == 16 and steps[0]["recall_held"] < 0.95
    assert measured.report["reached"] is True
    assert measured.config.params["efSearch"] > 16
    assert ann.search_params(index)["efSearch"] == measured.config.params["efSearch"]
    efs = [step["params"]["efSearch"] for step in steps]
    assert efs == sorted(efs) and len(set(efs)) == len(efs)
    # Every vector is in the index, the held-out ones included.
    assert index.ntotal == len(ids)
    # Fresh points of the same distribution, never seen by the build, reach the target too.
    hits = fresh_recall(index, vectors, ids, clustered(500, seed=99))
    assert hits.mean() >= 0.95 - 2 * math.sqrt(hits.var() / len(hits))


def test_the_recorded_recall_agrees_with_an_independent_measurement(hard, recall_settings):
    recall_settings.ANN_RECALL_TARGET = 0.5  # met at once: the build serves the narrow search it measured
    vectors, ids = hard
    config = ann.IndexConfig("HNSW16", {"efSearch": 16})
    index, measured = build_recall.build_tuned(vectors.copy(), ids.copy(), config, use_gpu=False, forced=True)
    m = measured.measurement
    assert ann.search_params(index)["efSearch"] == 16  # the knobs measured are the ones served
    independent = fresh_recall(index, vectors, ids, clustered(1000, seed=7))
    # Per-query recall varies from query to query: the standard error is over queries (both sets are
    # fresh points of one distribution, so the larger set's variance stands for both).
    spread = max(independent.var(), 1e-4)
    error = math.sqrt(spread / m.held + spread / len(independent))
    assert abs(m.recall_held - independent.mean()) <= 3 * error, (m.recall_held, independent.mean(), error)


def test_a_kind_that_cannot_reach_the_target_gives_way_to_the_next_and_says_why(hard, recall_settings):
    vectors, ids = hard
    coarse = ann.IndexConfig("IVF64,PQ8x4fs", {"nprobe": 4})
    index, measured = build_recall.build_tuned(vectors.copy(), ids.copy(), coarse, use_gpu=False, forced=False)
    first, *others = measured.report["attempts"]
    assert first["kind"] == "IVF64,PQ8x4fs" and first["reached"] is False
    assert first["reason"] and len(first["steps"]) > 1  # it tried raising nprobe before giving up
    assert others and measured.config.factory != coarse.factory
    assert measured.report["reached"] is True and others[-1]["reached"] is True
    assert "built instead of IVF64,PQ8x4fs" in measured.report["note"]
    assert index.ntotal == len(ids)


def test_a_latency_ceiling_no_kind_meets_is_reported_with_the_best_served(hard, recall_settings):
    recall_settings.ANN_RECALL_MAX_P95_MS = 1e-6
    recall_settings.ANN_RECALL_MAX_KINDS = 2
    vectors, ids = hard
    start = ann.IndexConfig("HNSW16", {"efSearch": 16})
    index, measured = build_recall.build_tuned(vectors.copy(), ids.copy(), start, use_gpu=False, forced=False)
    attempts = measured.report["attempts"]
    assert len(attempts) == 2 and not any(a["reached"] for a in attempts)
    assert all("ANN_RECALL_MAX_P95_MS" in a["reason"] for a in attempts)
    assert measured.report["reached"] is False and "missed" in measured.report["note"]
    assert index.ntotal == len(ids)


def test_flat_is_exact_by_design_and_only_timed(recall_settings):
    vectors = clustered(3000, seed=3)
    index, measured = build_recall.build_tuned(
        vectors, np.arange(3000), ann.IndexConfig(ann.FLAT), use_gpu=False, forced=False
    )
    assert measured.report["exact"] is True and "exact by design" in measured.report["note"]
    assert measured.measurement.p95_ms > 0 and measured.report["attempts"] == []


def test_exact_neighbours_in_batches_match_a_flat_index(monkeypatch):
    from indexing.ann.recall import sample as recall_sample

    base, queries = clustered(5000, seed=4), clustered(50, seed=5)
    monkeypatch.setattr(recall_sample, "SCAN_BATCH", 777)
    batched = exact_neighbours(base.astype(np.float16), queries, K)
    flat = ann.make_index(base.astype(np.float16).astype(np.float32), np.arange(5000), "Flat")
    _, expected = flat.search(queries, K)
    assert (batched == expected).mean() > 0.99  # ties aside, the same neighbours
