"""Selective label filters: k exact results when k exist, from the index's crops and its tail."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.ann import builds
from indexing.models import Crop
from indexing.served_models import served_embedder_version
from indexing.vectors import exact_nearest
from search.query import filtered
from search.query.candidates import search_vectors
from search.query.filters import CropFilter
from search.query.index_cache import index_holder
from tests.factories import make_crop, make_dataset, make_image, unit_vectors

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_state(settings):
    settings.SEARCH_INDEX_CHECK_SECONDS = 0
    settings.ANN_INDEX_KIND = "IVF8,SQ8"  # approximate: a rare label's neighbours are mostly not probed
    settings.ANN_IVF_NPROBE = 1
    index_holder.reset()
    filtered.forget()
    yield
    index_holder.reset()
    filtered.forget()


def exact_with_label(query: np.ndarray, label: str, k: int) -> list[int]:
    return [c.pk for c in exact_nearest(Crop.objects.filter(is_active=True, label=label), query, k)]


def test_a_rare_label_gets_its_k_exact_nearest(settings):
    image = make_image(make_dataset())
    vectors = unit_vectors(600, seed=21)
    for i, vector in enumerate(vectors):
        make_crop(image, vector, label="sports ball" if i % 50 == 0 else "person")  # 12 of 600: 2 %
    builds.update_index()
    late = make_crop(image, unit_vectors(1, seed=22)[0], label="sports ball")  # in the SQL tail
    for query in unit_vectors(10, seed=23):
        found = [
            r.crop_id
            for r in search_vectors(
                query[None, :], 10, CropFilter(labels=("sports ball",)), None, version=served_embedder_version()
            )[0]
        ]
        assert found == exact_with_label(query, "sports ball", 10)
    query = np.asarray(late.embedding, dtype=np.float32)
    assert (
        search_vectors(query[None, :], 1, CropFilter(labels=("sports ball",)), None, version=served_embedder_version())[
            0
        ][0].crop_id
        == late.pk
    )


def test_a_wide_filter_uses_the_index_and_still_fills_k(settings):
    settings.SEARCH_FILTER_EXACT_MAX = 10  # "person" (588 crops) is wider than this
    image = make_image(make_dataset())
    for i, vector in enumerate(unit_vectors(600, seed=24)):
        make_crop(image, vector, label="sports ball" if i % 50 == 0 else "person")
    builds.update_index()
    query = unit_vectors(1, seed=25)[0]
    results = search_vectors(
        query[None, :], 10, CropFilter(labels=("person",)), None, version=served_embedder_version()
    )[0]
    assert len(results) == 10 and {r.label for r in results} == {"person"}
    assert (
        filtered.filtered_subset(
            CropFilter(labels=("person",)), index_holder.current(version=served_embedder_version())
        )
        is None
    )


def test_one_filter_written_two_ways_is_one_cache_entry_and_the_cache_is_bounded_by_bytes(settings):
    from search.query.filters import build_filter

    image = make_image(make_dataset())
    vectors = unit_vectors(1200, seed=25)
    for i, vector in enumerate(vectors):
        make_crop(image, vector, label=("car", "dog", "person")[i % 3])  # 400 a label: 0.8 MB of vectors each
    builds.update_index()
    version = served_embedder_version()
    query = unit_vectors(1, seed=26)[0][None, :]
    for labels in (["person", "car"], ["car", "person"], ["car", "person", "car"]):
        search_vectors(query, 5, build_filter(labels=labels), None, version=version)
    assert filtered.cache_stats()["entries"] == 1  # sorted and de-duplicated: one key
    search_vectors(query, 5, CropFilter(labels=("person", "car")), None, version=version)  # built by hand: same key
    assert filtered.cache_stats()["entries"] == 1
    settings.SEARCH_FILTER_CACHE_MB = 2
    for label in ("car", "dog", "person"):
        search_vectors(query, 5, CropFilter(labels=(label,)), None, version=version)
    stats = filtered.cache_stats()
    assert stats["bytes"] <= 2 << 20 and stats["entries"] < 4  # the byte bound evicted entries
    assert stats["entries"] >= 1
