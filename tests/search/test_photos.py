"""A query photo: decoded once, and only its most confident objects searched (SEARCH_MAX_QUERY_OBJECTS)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from search import photos, services
from tests.bad_files import encoded, photo_like


@pytest.fixture(autouse=True)
def unthrottled(settings):
    settings.SEARCH_THROTTLE_RATE = "100000/min"


@pytest.fixture
def crowded(db, real_models, coco_subset_files: list[Path], settings) -> bytes:
    """A COCO photo with at least three searchable objects."""
    settings.SEARCH_MAX_QUERY_OBJECTS = 100
    for path in coco_subset_files:
        if len(photos.find_objects(photos.decode(path.read_bytes())).crops) >= 3:
            return path.read_bytes()
    pytest.fail("no photo of the sample has three objects")


def test_only_the_most_confident_objects_are_searched(crowded, settings):
    everything = services.search_image(crowded, k=2)
    assert everything.objects_left_out == 0
    settings.SEARCH_MAX_QUERY_OBJECTS = 2
    capped = services.search_image(crowded, k=2)
    assert len(capped.objects) == 2
    assert capped.objects_left_out == len(everything.objects) - 2
    best = sorted(everything.objects, key=lambda o: o.confidence, reverse=True)[:2]
    assert [(o.label, o.box) for o in capped.objects] == [(o.label, o.box) for o in best]
    assert f"Found {len(everything.objects)} objects" in capped.message
    assert f"the other {capped.objects_left_out} were left out" in capped.message


def test_the_api_and_the_page_say_when_objects_were_left_out(client, crowded, settings):
    settings.SEARCH_MAX_QUERY_OBJECTS = 1
    upload = {"image": SimpleUploadedFile("crowd.jpg", crowded, content_type="image/jpeg"), "k": 2}
    body = client.post("/api/search/image", upload).json()
    assert len(body["objects"]) == 1 and body["objects_left_out"] >= 2
    assert "were left out" in body["message"]
    upload["image"].seek(0)
    page = client.post("/search", {**upload, "mode": "image"}).content.decode()
    assert page.count('class="object"') == 1
    assert "were left out" in page


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
