"""Query by region: a box searched alone, without the detector; every bad box a clear 400."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from indexing.models import SourceImage
from search.query.image import photos


def post_image(path, **fields):
    image = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
    return APIClient().post("/api/search/image", {"image": image, **fields}, format="multipart")


@pytest.fixture
def no_detector(monkeypatch):
    """A region query must not run the detector: make running it fail loudly."""

    def refuse(image):
        raise AssertionError("the detector ran for a region query")

    monkeypatch.setattr(photos, "find_objects", refuse)


def test_a_detected_objects_box_gives_that_objects_results(indexed):
    path = indexed[0]
    whole = post_image(path, k=5).json()
    obj = whole["objects"][0]
    box = ",".join(str(v) for v in obj["box"])
    region = post_image(path, k=5, box=box).json()
    assert region["region"] is True and region["whole_image"] is False
    assert len(region["objects"]) == 1 and region["objects"][0]["box"] == obj["box"]
    # The same crop, the same embedding: the same results, the object's own crop first.
    assert region["objects"][0]["results"] == obj["results"]
    source = SourceImage.objects.get(original_name=path.name)
    assert region["objects"][0]["results"][0]["image_id"] == source.pk


def test_a_drawn_box_is_searched_without_the_detector(indexed, no_detector):
    path = indexed[1]
    width, height = Image.open(path).size
    response = post_image(path, k=4, box=f"0,0,{width // 2},{height // 2}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["region"] is True and body["objects"][0]["label"] is None
    assert body["objects"][0]["box"] == [0, 0, width // 2, height // 2]
    assert len(body["objects"][0]["results"]) == 4
    assert "Searched the region" in body["message"]


@pytest.mark.parametrize(
    ("box", "words"),
    [
        ("1,2,3", "four numbers"),
        ("a,b,c,d", "four numbers"),
        ("1,2,nan,4", "four numbers"),
        ("100,100,50,200", "inverted"),
        ("100,100,200,100", "inverted"),
        ("-5,0,100,100", "outside the photo"),
        ("0,0,100,99999", "outside the photo"),
        ("10,10,20,20", "too small"),
        ("0,0,300,25", "too small"),
    ],
)
def test_every_bad_box_gets_a_400_that_says_which(indexed, no_detector, box, words):
    response = post_image(indexed[0], box=box)
    assert response.status_code == 400, response.content
    message = response.json()["error"]
    assert words in message
    if words == "outside the photo":
        width, height = Image.open(indexed[0]).size
        assert f"{width}x{height}" in message
    if words == "too small":
        assert "CROP_MIN_SIDE" in message
