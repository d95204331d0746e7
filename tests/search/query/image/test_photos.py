"""A query photo: decoded once, its most confident objects searched (SEARCH_MAX_QUERY_OBJECTS), all returned."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from search.query import services
from search.query.image import photos
from tests.bad_files import encoded, photo_like


@pytest.fixture(autouse=True)
def unthrottled(settings):
    settings.SEARCH_THROTTLE_RATE = "100000/min"


@pytest.fixture
def crowded(indexed, coco_subset_files: list[Path], settings) -> bytes:
    """A COCO photo with at least three searchable objects, and an indexed sample to find its objects in."""
    settings.SEARCH_MAX_QUERY_OBJECTS = 100
    for path in coco_subset_files:
        if len(photos.find_objects(photos.decode(path.read_bytes())).crops) >= 3:
            return path.read_bytes()
    pytest.fail("no photo of the sample has three objects")


def test_the_most_confident_objects_are_searched_and_every_object_is_returned(crowded, settings, monkeypatch):
    everything = services.search_image(crowded, k=2)
    assert everything.objects_left_out == 0 and all(o.searched for o in everything.objects)
    settings.SEARCH_MAX_QUERY_OBJECTS = 2
    embedded = []
    embed = photos.embed
    monkeypatch.setattr(photos, "embed", lambda pixels: embedded.append(len(pixels)) or embed(pixels))
    capped = services.search_image(crowded, k=2)
    assert embedded == [2]  # only the two most confident cost an embedding and a search
    assert len(capped.objects) == len(everything.objects) >= 3  # but every detection comes back
    searched, others = capped.objects[:2], capped.objects[2:]
    assert all(o.searched and o.results for o in searched)
    assert all(not o.searched and o.results == [] and o.next_offset is None for o in others)
    assert capped.objects_left_out == len(others)
    best = sorted(everything.objects, key=lambda o: o.confidence, reverse=True)
    assert [(o.label, o.box) for o in capped.objects] == [(o.label, o.box) for o in best]
    assert f"Found {len(everything.objects)} objects" in capped.message
    assert f"the other {capped.objects_left_out} were not searched" in capped.message


def test_the_api_and_the_page_return_every_object_and_flag_the_unsearched(client, crowded, settings):
    settings.SEARCH_MAX_QUERY_OBJECTS = 1
    upload = {"image": SimpleUploadedFile("crowd.jpg", crowded, content_type="image/jpeg"), "k": 2}
    body = client.post("/api/search/image", upload).json()
    assert body["objects_left_out"] >= 2 and len(body["objects"]) == 1 + body["objects_left_out"]
    first, *others = body["objects"]
    assert first["searched"] and first["results"]
    assert all(not o["searched"] and o["results"] == [] and len(o["box"]) == 4 and o["label"] for o in others)
    assert "were not searched" in body["message"]
    upload["image"].seek(0)
    page = client.post("/search", {**upload, "mode": "image"}).content.decode()
    assert page.count('class="object"') == 1  # one result section: the one searched object
    boxes = re.findall(r'class="box pick( unsearched)?" data-box="([^"]+)"', page)
    assert len(boxes) == len(body["objects"])  # every object drawn on the photo
    assert sum(1 for unsearched, _ in boxes if unsearched) == len(others)
    drawn = [[float(v) for v in box.split(",")] for _, box in boxes]
    for obj in body["objects"]:  # each object's own box, as the API gives it
        assert any(all(abs(a - b) < 0.01 for a, b in zip(d, obj["box"], strict=True)) for d in drawn), obj
    assert page.count('class="search-object"') == len(others)


def test_the_page_decodes_the_photo_once_and_previews_it_small(client, db, real_models, monkeypatch):
    from indexing.vision import images

    calls = []
    open_stream = images._open_stream

    def counting_open_stream(*args, **kwargs):  # every load_image call, from any module, starts here
        calls.append(1)
        return open_stream(*args, **kwargs)

    monkeypatch.setattr(images, "_open_stream", counting_open_stream)
    data = encoded(photo_like(2600, 2000), "JPEG", quality=90)
    upload = SimpleUploadedFile("big.jpg", data, content_type="image/jpeg")
    response = client.post("/search", {"image": upload, "mode": "image"})
    assert response.status_code == 200
    assert len(calls) == 1
    preview = re.search(r"data:image/jpeg;base64,([A-Za-z0-9+/=]+)", response.content.decode()).group(1)
    assert Image.open(io.BytesIO(base64.b64decode(preview))).size == (1024, 788)
