"""Bodies over the upload limits are refused before they are read, as JSON or as the search page."""

from __future__ import annotations

import io
import json
import os
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http.multipartparser import MultiPartParser
from django.urls import reverse
from PIL import Image
from rest_framework.parsers import JSONParser

from indexing.models import SourceImage
from search.api.base import BodyTooLarge, BoundedJSONParser
from tests.factories import png_bytes

LIMIT = 100_000


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.MAX_UPLOAD_BYTES = LIMIT
    settings.SEARCH_THROTTLE_RATE = "100000/min"


def blob(size: int, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"\xff" * size, content_type="image/jpeg")


@pytest.fixture
def parsed(monkeypatch) -> list[int]:
    """Records each multipart body Django parses (none, for a body refused unread)."""
    calls: list[int] = []
    parse = MultiPartParser.parse

    def recording_parse(self):
        calls.append(1)
        return parse(self)

    monkeypatch.setattr(MultiPartParser, "parse", recording_parse)
    return calls


def test_a_body_over_the_limit_is_refused_unread(client, db, parsed):
    api = client.post("/api/search/image", {"image": blob(3 * LIMIT)})
    assert api.status_code == 413
    assert api.json()["error"].startswith("The upload is 300,")
    assert "the limit is 100,000 bytes (MAX_UPLOAD_BYTES)" in api.json()["error"]
    page = client.post("/search", {"image": blob(3 * LIMIT), "mode": "image"})
    assert page.status_code == 413
    assert "the limit is 100,000 bytes" in page.content.decode()
    assert 'name="image"' in page.content.decode()
    assert parsed == []


def test_a_file_is_stopped_as_soon_as_it_passes_the_limit(client, db, monkeypatch):
    # 150 KB: under the Content-Length allowance for form fields, over the file limit.
    kept: list[int] = []
    receive = MemoryFileUploadHandler.receive_data_chunk

    def recording_receive(self, raw_data, start):
        kept.append(len(raw_data))
        return receive(self, raw_data, start)

    monkeypatch.setattr(MemoryFileUploadHandler, "receive_data_chunk", recording_receive)
    api = client.post("/api/search/image", {"image": blob(150_000)})
    assert api.status_code == 413
    assert "limit" in api.json()["error"]
    assert sum(kept) <= LIMIT  # the rest was never handed on to be kept
    page = client.post("/search", {"image": blob(150_000), "mode": "image"})
    assert page.status_code == 413 and "MAX_UPLOAD_BYTES" in page.content.decode()


def noise_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_staff_pass_the_body_limit_only_in_the_admins_dataset_upload(client, admin_client, real_models):
    photos = [noise_png(150) for _ in range(3)]  # ~68 KB each, ~205 KB in all: over the body limit
    assert all(60_000 < len(data) < LIMIT for data in photos)

    def search_body():
        extra = {f"extra{i}": SimpleUploadedFile(f"{i}.png", data, "image/png") for i, data in enumerate(photos)}
        return {"image": SimpleUploadedFile("q.png", png_bytes((320, 240)), "image/png"), "mode": "image", **extra}

    assert client.post("/search", search_body()).status_code == 413
    assert admin_client.post("/search", search_body()).status_code == 413  # a search is a search, staff or not
    upload = {
        "name": "uploaded",
        "version": "version_1",
        "split_names": '["train"]',
        "upload_images": [SimpleUploadedFile(f"{i}.png", data, "image/png") for i, data in enumerate(photos)],
        "upload_split": "train",
    }
    response = admin_client.post(reverse("admin:indexing_dataset_add"), upload)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SourceImage.objects.filter(dataset__name="uploaded").count() == 3


@pytest.fixture
def json_parsed(monkeypatch) -> list[int]:
    """Records each JSON body DRF parses (none, for a body refused unread)."""
    calls: list[int] = []
    parse = JSONParser.parse

    def recording_parse(self, *args, **kwargs):
        calls.append(1)
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(JSONParser, "parse", recording_parse)
    return calls


def test_a_text_search_body_over_a_few_kb_is_refused_unparsed(client, db, json_parsed):
    ignored = {f"key{i}": i for i in range(300_000)}  # ~3.9 MB of keys the search never reads
    body = json.dumps({"query": "car", **ignored})
    assert len(body) > 3_500_000
    response = client.post("/api/search/text", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"] == f"The request body is {len(body):,} bytes; the limit is 16,384 bytes."
    assert json_parsed == []
    fields = {"query": "car", "pad": "x" * 20_000}
    for form in (
        client.post("/api/search/text", urlencode(fields), content_type="application/x-www-form-urlencoded"),
        client.post("/api/search/text", fields),  # multipart: no photo is taken here either
    ):
        assert form.status_code == 413 and "the limit is 16,384 bytes" in form.json()["error"]
    # A small body is parsed and reaches the search's own checks.
    small = client.post("/api/search/text", {"query": " ", "k": 5}, content_type="application/json")
    assert small.status_code == 400 and small.json()["error"] == "Type a few words to search for."
    assert json_parsed == [1]


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def test_the_api_reads_a_body_bounded_whatever_its_length_said(settings):
    # Without a Content-Length to check (a chunked body, an ASGI server), the parser itself stops.
    stream = CountingStream(b'{"query": "' + b"x" * 1_000_000 + b'"}')
    with pytest.raises(BodyTooLarge, match="over 16,384 bytes"):
        BoundedJSONParser().parse(stream, "application/json", {})
    assert stream.taken == settings.SEARCH_MAX_BODY_BYTES + 1
    assert BoundedJSONParser().parse(CountingStream(b'{"query": "car"}'), "application/json", {}) == {"query": "car"}


def test_a_box_is_refused_by_its_length_before_it_is_split(client, db, real_models):
    photo = png_bytes((320, 240))
    long_box = ",".join(["1"] * 60)  # 119 characters: no box is that long
    for box, status, message in (
        (long_box, 400, "box is 119 characters long; four numbers x1,y1,x2,y2 take at most 100."),
        ("1," * 50_000, 413, "The search fields are over 65,536 characters."),
    ):
        api = client.post("/api/search/image", {"image": SimpleUploadedFile("q.png", photo, "image/png"), "box": box})
        assert api.status_code == status and api.json()["error"] == message
        page = client.post(
            "/search", {"image": SimpleUploadedFile("q.png", photo, "image/png"), "mode": "image", "box": box}
        )
        assert page.status_code == status and message in page.content.decode()
    fine = client.post(
        "/api/search/image", {"image": SimpleUploadedFile("q.png", photo, "image/png"), "box": "10,10,200,180"}
    )
    assert fine.status_code == 200, fine.content[:300]


def test_too_many_fields_is_a_400_that_says_so(client, db, settings):
    fields = {f"field{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    api = client.get("/api/search_text", {"query": "car", **fields})
    assert api.status_code == 400
    assert api.json()["error"] == "The request has more than 500 fields."
    page = client.post("/search", {"mode": "image", **fields})
    assert page.status_code == 400
    assert "The request has more than 500 fields." in page.content.decode()


def test_a_malformed_multipart_body_is_a_400_not_a_500(client, db):
    for path in ("/search", "/api/search/image"):
        response = client.post(path, data=b"--nothing--", content_type="multipart/form-data")
        assert response.status_code == 400, path
        assert "The form could not be read" in response.content.decode()
