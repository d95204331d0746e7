"""Full-text matches over descriptions: a photo's words count for each of its crops, bounded by the filters."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.models import Description
from search.query.filters import NO_FILTER, build_filter
from search.query.text.words import text_matches
from tests.factories import make_crop, make_dataset, make_image

VERSION = "test-embedder"


@pytest.fixture
def photos(db) -> dict[str, int]:
    dataset = make_dataset("words")
    wedding, street = make_image(dataset, seed=1), make_image(dataset, seed=2)
    vector = np.eye(512, dtype=np.float32)[0]
    ids = {
        "bride": make_crop(wedding, vector, label="person").pk,
        "umbrella": make_crop(wedding, vector, label="umbrella").pk,
        "car": make_crop(street, vector, label="car").pk,
        "towel": make_crop(street, vector, label="handbag").pk,
    }
    Description.objects.create(image=wedding, text="a wedding on a sandy beach at sunset", model="stub")
    Description.objects.create(image=street, text="a busy street of shops", model="stub")
    Description.objects.create(crop_id=ids["towel"], text="a striped beach towel, a beach bag", model="stub")
    Description.objects.create(crop_id=ids["car"], text="a red car", model="stub")
    return ids


def test_a_photos_description_brings_each_of_its_crops(photos):
    found = text_matches("beach", crop_filter=NO_FILTER, version=VERSION, limit=10)
    assert set(found) == {photos["bride"], photos["umbrella"], photos["towel"]}  # not the car: no beach
    assert next(iter(found)) == photos["towel"]  # its own words say beach twice: the best rank
    assert found[photos["bride"]] == found[photos["umbrella"]] > 0  # both ranked by their photo's words


def test_filters_and_the_limit_apply_to_crops_found_by_their_photo(photos):
    people = text_matches("beach", crop_filter=build_filter(labels=["person"]), version=VERSION, limit=10)
    assert list(people) == [photos["bride"]]
    assert len(text_matches("beach", crop_filter=NO_FILTER, version=VERSION, limit=2)) == 2
    assert list(text_matches("red car", crop_filter=NO_FILTER, version=VERSION, limit=10)) == [photos["car"]]
