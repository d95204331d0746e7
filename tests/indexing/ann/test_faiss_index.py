"""FAISS index building: the chosen search parameters travel with the index."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.ann import faiss_index as ann
from tests.factories import unit_vectors


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return unit_vectors(3000, seed=21)


@pytest.mark.parametrize(
    ("factory", "params"),
    [
        ("HNSW16", {"efSearch": 40}),
        ("IVF32,SQ8", {"nprobe": 7}),
        ("IVF32,PQ64x4fs,Refine(SQ8)", {"nprobe": 5, "k_factor": 12}),
    ],
)
def test_make_index_applies_the_configs_search_parameters(vectors, factory, params):
    config = ann.IndexConfig(factory, params)
    index = ann.make_index(vectors, np.arange(len(vectors)), config)
    assert ann.search_params(index) == params
    # A stored index comes back with the build's parameters, not the settings' defaults.
    assert ann.search_params(ann.deserialize(ann.serialize(index), config.params)) == params


def test_without_parameters_the_settings_defaults_apply(vectors, settings):
    settings.ANN_IVF_NPROBE, settings.ANN_HNSW_EF_SEARCH, settings.ANN_REFINE_K_FACTOR = 9, 33, 6
    ids = np.arange(len(vectors))
    assert ann.search_params(ann.make_index(vectors, ids, "IVF32,SQ8")) == {"nprobe": 9}
    assert ann.search_params(ann.make_index(vectors, ids, "HNSW16")) == {"efSearch": 33}
    refined = ann.make_index(vectors, ids, "IVF32,PQ64x4fs,Refine(SQ4)")
    assert ann.search_params(refined) == {"k_factor": 6, "nprobe": 9}
    ann.configure_search(refined, {"nprobe": 3})  # a partial set keeps the other defaults
    assert ann.search_params(refined) == {"k_factor": 6, "nprobe": 3}


def test_more_probes_find_more_true_neighbours(vectors):
    """The knob is really wired: nprobe=1 on a 64-list IVF misses what nprobe=64 finds."""
    ids = np.arange(len(vectors))
    queries = vectors[:50] + 0.05 * unit_vectors(50, seed=22)
    _, truth = ann.search(ann.make_index(vectors, ids, "Flat"), queries, 10)
    index = ann.make_index(vectors, ids, ann.IndexConfig("IVF64,SQ8", {"nprobe": 1}))
    few = ann.search(index, queries, 10)[1]
    ann.configure_search(index, {"nprobe": 64})
    every = ann.search(index, queries, 10)[1]

    def recall(found):
        return np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])

    assert recall(every) >= 0.95 > recall(few)


def test_config_round_trips_and_rejects_unknown_knobs():
    config = ann.IndexConfig("IVF1024,SQ8", {"nprobe": 16})
    assert ann.IndexConfig.from_dict(config.to_dict()) == config
    assert ann.IndexConfig.from_dict({"factory": "Flat"}) == ann.IndexConfig("Flat")
    with pytest.raises(ValueError, match="nprobes"):
        ann.IndexConfig("IVF1024,SQ8", {"nprobes": 16})


def test_a_deep_hnsw_fetch_returns_every_neighbour_asked_for_past_the_tuned_beam(vectors):
    """FAISS stops an HNSW search at about efSearch neighbours; a deeper fetch widens the beam for itself."""
    ids = np.arange(len(vectors))
    index = ann.make_index(vectors, ids, ann.IndexConfig("HNSW16", {"efSearch": 16}))
    scores, found = ann.search(index, vectors[:1], 1500)
    assert int((found >= 0).sum()) == 1500
    assert list(scores[0]) == sorted(scores[0], reverse=True)
    # The shared index keeps its tuned beam for every other search.
    assert ann.search_params(index) == {"efSearch": 16}
