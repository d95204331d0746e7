"""Image search with query words: an open-vocabulary detector looks for them; a fixed-class one refuses them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from indexing.models import Crop
from tests.conftest import OPEN_VOCABULARY
from tests.search.conftest import INDEXED_IMAGES, index_files


def upload(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")


@pytest.fixture
def indexed_with_words(db, open_vocabulary_models, coco_subset_files, settings):
    """COCO photos indexed by the test OWL-ViT; every object of a query photo searched (no cap to hide one)."""
    settings.SEARCH_MAX_QUERY_OBJECTS = 1000
    files = coco_subset_files[:INDEXED_IMAGES]
    index_files(files)
    return files


def what_was_found(objects: list[dict]) -> list[tuple]:
    """What each object is and what it found; its floats to a few digits (more query texts change a
    float32's last bits in the detector's sums, never what it found)."""
    return [
        (o["label"], round(o["confidence"], 5), [round(v, 2) for v in o["box"]], [r["crop_id"] for r in o["results"]])
        for o in objects
    ]


def search(data: bytes, **fields):
    return APIClient().post("/api/search/image", {"image": upload(data), "k": 2, **fields}, format="multipart")


def test_a_word_outside_the_vocabulary_returns_regions_for_it_searched_like_the_others(indexed_with_words) -> None:
    assert set(Crop.objects.values_list("label", flat=True)) <= set(OPEN_VOCABULARY)
    data = indexed_with_words[0].read_bytes()
    plain = search(data).json()
    response = search(data, words="bicycle, red umbrella")
    assert response.status_code == 200, response.content
    objects = response.json()["objects"]
    by_label: dict[str, list[dict]] = {}
    for found in objects:
        by_label.setdefault(found["label"], []).append(found)
    assert set(by_label) <= {*OPEN_VOCABULARY, "bicycle", "red umbrella"}
    assert by_label.get("bicycle") and by_label.get("red umbrella")
    assert all(found["searched"] and found["results"] for found in by_label["bicycle"])
    # The vocabulary's objects are those of a search without words; the words only add theirs.
    assert what_was_found([o for o in objects if o["label"] in OPEN_VOCABULARY]) == what_was_found(plain["objects"])
    assert all(o["results"] for o in plain["objects"])  # what is compared is not empty
    repeated = search(data, words=["bicycle", "red umbrella"])  # repeated fields: the same query
    assert repeated.json()["objects"] == objects


def test_words_are_bounded_and_not_combined_with_a_box(indexed_with_words, settings) -> None:
    data = indexed_with_words[0].read_bytes()
    settings.SEARCH_MAX_QUERY_WORDS = 3
    too_many = search(data, words="a,b,c,d")
    assert too_many.status_code == 400 and "At most 3 query words" in too_many.json()["error"]
    assert search(data, words=["a", "b", "c", "d"]).status_code == 400
    too_long = search(data, words="x" * 51)
    assert too_long.status_code == 400 and "at most 50 characters" in too_long.json()["error"]
    with_box = search(data, words="bicycle", box="0,0,50,50")
    assert with_box.status_code == 400 and "not both" in with_box.json()["error"]


@pytest.mark.django_db
def test_a_fixed_class_detector_refuses_words_naming_its_classes(real_models, coco_subset_files, settings) -> None:
    settings.DETECTOR_CLASSES = ["person", "car"]
    response = search(coco_subset_files[0].read_bytes(), words="bicycle")
    assert response.status_code == 400
    detail = response.json()["error"]
    assert "finds only its classes: person, car" in detail and "open-vocabulary detector" in detail


def test_the_schema_documents_words(db) -> None:
    schema = APIClient().get("/api/schema", {"format": "json"}).json()
    request = schema["components"]["schemas"]["SearchImageRequestRequest"]["properties"]
    assert request["words"]["type"] == "array" and "open-vocabulary" in request["words"]["description"]
