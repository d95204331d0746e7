"""Paging past the first k results: each result once, in one stable order."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from indexing.ann import builds
from indexing.models import Crop


def text_pages(api: APIClient, k: int, **params) -> list[dict]:
    pages, offset = [], 0
    while offset is not None:
        body = {"query": "a person", "k": k, "offset": offset, **params}
        response = api.post("/api/search/text", body, format="json")
        assert response.status_code == 200, response.content
        pages.append(response.json())
        offset = pages[-1]["next_offset"]
        assert len(pages) < 50
    return pages


@pytest.mark.parametrize("use_build", [False, True])
def test_paging_returns_each_result_once_in_the_order_of_one_long_list(indexed, use_build):
    if use_build:
        builds.publish_build()
    api = APIClient()
    total = Crop.objects.filter(is_active=True).count()
    assert total > 6
    pages = text_pages(api, k=3)
    ids = [r["crop_id"] for page in pages for r in page["results"]]
    assert len(ids) == len(set(ids)) == total  # every crop once, none twice
    assert [page["offset"] for page in pages] == list(range(0, 3 * len(pages), 3))
    assert all(len(page["results"]) == 3 for page in pages[:-1]) and pages[-1]["next_offset"] is None
    one_list = api.post("/api/search/text", {"query": "a person", "k": total}, format="json").json()["results"]
    assert ids == [r["crop_id"] for r in one_list]
    keys = [(-r["score"], r["crop_id"]) for page in pages for r in page["results"]]
    assert keys == sorted(keys)


def test_image_search_pages_per_object(indexed):
    path = indexed[0]

    def post(offset):
        image = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
        data = {"image": image, "k": 3, "offset": offset}
        return APIClient().post("/api/search/image", data, format="multipart").json()

    first, second = post(0), post(3)
    assert first["objects"][0]["next_offset"] == 3 and second["offset"] == 3
    for a, b in zip(first["objects"], second["objects"], strict=True):
        assert not {r["crop_id"] for r in a["results"]} & {r["crop_id"] for r in b["results"]}


def test_paging_depth_is_bounded(indexed, settings):
    settings.SEARCH_MAX_DEPTH = 20
    api = APIClient()
    response = api.post("/api/search/text", {"query": "a person", "k": 5, "offset": 16}, format="json")
    assert response.status_code == 400 and "SEARCH_MAX_DEPTH" in response.json()["error"]
    response = api.post("/api/search/text", {"query": "a person", "k": 5, "offset": -1}, format="json")
    assert response.status_code == 400 and "offset" in response.json()["error"]
    last = api.post("/api/search/text", {"query": "a person", "k": 5, "offset": 15}, format="json").json()
    assert last["next_offset"] is None  # the depth ends the pages
