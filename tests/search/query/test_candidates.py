"""search_vectors compares a query only with crops of its own embedder version, on every path."""

from __future__ import annotations

import pytest

from indexing.ann import builds
from search.query.candidates import search_vectors
from search.query.filters import CropFilter
from tests.factories import make_crop, make_dataset, make_image, unit_vectors

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_index_holder")]


@pytest.fixture
def two_models():
    """The same vectors stored twice: once as model A made them, once as model B (a re-embed half done)."""
    vectors = unit_vectors(6, seed=3)
    image = make_image(make_dataset(), seed=1)
    made = {version: [make_crop(image, v, embedder_version=version).pk for v in vectors] for version in ("A", "B")}
    return vectors, made


def found(vector, version: str, crop_filter=None) -> set[int]:
    return {r.crop_id for r in search_vectors(vector[None, :], 20, crop_filter, None, version=version)[0]}


def test_without_an_index_pgvector_keeps_the_querys_version(two_models):
    vectors, made = two_models
    assert found(vectors[0], "A") == set(made["A"])
    assert found(vectors[0], "B") == set(made["B"])
    assert found(vectors[0], "C") == set()


def test_the_served_build_and_its_tail_keep_the_querys_version(two_models):
    vectors, made = two_models
    build = builds.publish_build(version="A")
    assert build.embedder_version == "A" and build.size == 6  # B's crops are not in A's index
    assert found(vectors[0], "A") == set(made["A"])
    # B has no build: its crops are ranked by pgvector, A's index is not read for it.
    assert found(vectors[0], "B") == set(made["B"])
    # Crops stored after the build (the SQL tail) keep their version too.
    image = make_image(make_dataset("later"), seed=2)
    later = {version: make_crop(image, vectors[1], embedder_version=version).pk for version in ("A", "B")}
    assert later["A"] in found(vectors[1], "A") and later["B"] not in found(vectors[1], "A")
    # And so does exact search under a selective filter.
    assert found(vectors[0], "A", CropFilter(labels=("person",))) == set(made["A"]) | {later["A"]}
