"""CropFilter through the real core: dataset and split filters, on pgvector and on a FAISS build."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from indexing.ann import builds
from indexing.served_models import served_embedder_version
from search.query import services
from search.query.errors import SearchInputError
from search.query.filters import CropFilter, build_filter
from tests.factories import make_crop, make_dataset, make_image, unit_vectors


@pytest.fixture
def two_datasets(db, real_models):
    """Two datasets, train and val photos in each, every crop near the same direction."""
    vectors = unit_vectors(8, seed=5)
    made = {}
    for d in range(2):
        dataset = make_dataset(name=f"set{d}")
        for i, split in enumerate(["train", "val"]):
            image = make_image(dataset, seed=d * 10 + i, split=split)
            crop = make_crop(image, vectors[d * 2 + i], label="car" if i else "person")
            made[(d, split)] = (dataset, crop)
    return made


@pytest.mark.parametrize("use_build", [False, True])
def test_dataset_and_split_filters_keep_only_those_crops(two_datasets, use_build):
    if use_build:
        builds.publish_build()
    set1 = two_datasets[(1, "train")][0]
    query = two_datasets[(0, "train")][1].embedding  # set0's own crop is the nearest without a filter
    everything = services.search_vectors(query[None, :], 10, None, None, version=served_embedder_version())[0]
    assert len(everything) == 4
    in_set1 = services.search_vectors(
        query[None, :], 10, CropFilter(dataset_ids=(set1.pk,)), None, version=served_embedder_version()
    )[0]
    assert {r.crop_id for r in in_set1} == {two_datasets[(1, s)][1].pk for s in ("train", "val")}
    val_only = services.search_vectors(
        query[None, :], 10, CropFilter(splits=("val",)), None, version=served_embedder_version()
    )[0]
    assert {r.crop_id for r in val_only} == {two_datasets[(d, "val")][1].pk for d in (0, 1)}
    both = services.search_vectors(
        query[None, :], 10, CropFilter(dataset_ids=(set1.pk,), splits=("val",)), None, version=served_embedder_version()
    )[0]
    assert [r.crop_id for r in both] == [two_datasets[(1, "val")][1].pk]


def test_text_api_takes_dataset_and_split_filters(two_datasets):
    set0 = two_datasets[(0, "train")][0]
    body = APIClient().get("/api/search_text", {"query": "a car", "datasets": str(set0.pk), "splits": "val"}).json()
    assert [r["crop_id"] for r in body["results"]] == [two_datasets[(0, "val")][1].pk]
    posted = APIClient().post(
        "/api/search/text", {"query": "a car", "datasets": [set0.pk], "splits": ["train", "val"]}, format="json"
    )
    assert {r["crop_id"] for r in posted.json()["results"]} == {two_datasets[(0, s)][1].pk for s in ("train", "val")}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"datasets": "999999"}, "Unknown dataset id(s): 999999"),
        ({"datasets": "first"}, "dataset ids"),
        ({"datasets": "²"}, "dataset ids"),
        ({"splits": "x" * 30}, "at most 20 characters"),
        ({"splits": "val\x01"}, "letters, digits"),
        ({"splits": ",".join(f"s{i}" for i in range(30))}, "Too many splits"),
        ({"splits": "holdout"}, "Unknown split(s): holdout"),
    ],
)
def test_bad_filters_get_a_400_that_names_them(two_datasets, params, words):
    response = APIClient().get("/api/search_text", {"query": "a car", **params})
    assert response.status_code == 400
    assert words in response.json()["error"]


def test_build_filter_says_whether_it_narrows(db):
    make_dataset()  # its splits: train, val, test
    assert not build_filter().narrows
    assert build_filter(labels="car").narrows and build_filter(splits=["val"]).narrows
    with pytest.raises(SearchInputError, match="Unknown label"):
        build_filter(labels=["unicorn"])
