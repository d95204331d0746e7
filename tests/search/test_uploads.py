"""Bodies over the upload limits are refused before they are read, as JSON or as the search page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http.multipartparser import MultiPartParser

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


def test_staff_may_send_several_files_over_the_body_limit_each_within_it(client, admin_client, real_models):
    def body():
        photo = SimpleUploadedFile("photo.png", png_bytes((320, 240)), content_type="image/png")
        extra = {f"extra{i}": blob(70_000, f"{i}.jpg") for i in range(3)}  # 210 KB in all, 70 KB each
        return {"image": photo, "mode": "image", **extra}

    assert client.post("/search", body()).status_code == 413
    assert admin_client.post("/search", body()).status_code == 200  # the admin's bulk photo upload


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
