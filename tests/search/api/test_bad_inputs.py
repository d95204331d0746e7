"""Broken, odd and phone-sized photos through the API and the page: never a 500.

A refused photo gets a 4xx with a sentence that says why (JSON ``{"error": ...}`` from
the API, the search form with the message on the page), and the server answers the
next search as usual. Real models, a real database; the files are made here.
"""

from __future__ import annotations

import html
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.bad_files import Upload, noise_jpeg, odd_but_valid_uploads, refused_uploads
from tests.factories import png_bytes

REFUSED = refused_uploads()
ODD_BUT_VALID = odd_but_valid_uploads()
GOOD = Upload("good.png", png_bytes((320, 240), (10, 120, 200)), "image/png")


@pytest.fixture(autouse=True)
def unthrottled(settings):
    # Dozens of searches from one client in a few seconds.
    settings.SEARCH_THROTTLE_RATE = "100000/min"


def as_file(upload: Upload) -> SimpleUploadedFile:
    return SimpleUploadedFile(upload.name, upload.data, content_type=upload.content_type)


def api_search(client, upload: Upload, **fields):
    return client.post("/api/search/image", {"image": as_file(upload), **fields})


def page_search(client, upload: Upload, **fields):
    return client.post("/search", {"image": as_file(upload), "mode": "image", **fields})


def page_error(response) -> str:
    match = re.search(r'<p class="error" role="alert">(.*?)</p>', response.content.decode(), re.S)
    assert match, "the page shows no error message"
    return html.unescape(match.group(1))


def assert_still_answers(client) -> None:
    assert api_search(client, GOOD).status_code == 200
    assert page_search(client, GOOD).status_code == 200


@pytest.mark.parametrize("case", list(REFUSED))
def test_api_refuses_a_bad_file_with_a_json_reason(client, db, real_models, case):
    upload = REFUSED[case]
    response = api_search(client, upload)
    assert 400 <= response.status_code < 500, (case, response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    assert upload.message.lower() in response.json()["error"].lower()
    assert_still_answers(client)


@pytest.mark.parametrize("case", list(REFUSED))
def test_page_shows_the_form_with_the_reason_for_a_bad_file(client, db, real_models, case):
    upload = REFUSED[case]
    response = page_search(client, upload)
    assert 400 <= response.status_code < 500, (case, response.status_code)
    assert upload.message.lower() in page_error(response).lower()
    assert 'name="image"' in response.content.decode()  # the form, to try again
    assert_still_answers(client)


@pytest.mark.parametrize("case", list(ODD_BUT_VALID))
def test_odd_but_valid_photos_are_searched_on_both_paths(client, db, real_models, case):
    upload = ODD_BUT_VALID[case]
    api = api_search(client, upload)
    assert api.status_code == 200, api.content[:300]
    expected = (160, 120) if case == "animated GIF" else (320, 240)
    assert (api.json()["width"], api.json()["height"]) == expected
    page = page_search(client, upload)
    assert page.status_code == 200
    assert "data:image/jpeg;base64," in page.content.decode()


@pytest.fixture(scope="module")
def phone_photos() -> dict[str, bytes]:
    """A 6 MB and a 19 MB JPEG: over the 5 MB in-memory upload limit, under MAX_UPLOAD_BYTES."""
    photos = {"6 MB": noise_jpeg(2600, 2000, quality=95), "19 MB": noise_jpeg(4100, 3075, quality=98)}
    assert 5.8e6 < len(photos["6 MB"]) < 7e6
    assert 19e6 < len(photos["19 MB"]) < settings.MAX_UPLOAD_BYTES
    assert min(map(len, photos.values())) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE  # spooled to a temporary file
    return photos


@pytest.mark.parametrize("size", ["6 MB", "19 MB"])
def test_phone_sized_photos_are_searched_through_the_api_and_the_page(client, db, real_models, phone_photos, size):
    upload = Upload("phone.jpg", phone_photos[size], "image/jpeg")
    api = api_search(client, upload, k=3)
    assert api.status_code == 200, api.content[:300]
    assert (api.json()["width"], api.json()["height"]) in {(2600, 2000), (4100, 3075)}
    page = page_search(client, upload, k=3)
    assert page.status_code == 200
    assert "data:image/jpeg;base64," in page.content.decode()


def test_a_model_failing_on_a_photo_is_a_422_that_says_so(client, db, real_models, monkeypatch):
    from indexing.vision.detector import Detector

    def broken(self, images):
        raise AssertionError("letterbox: new_shape must be positive")

    with monkeypatch.context() as patched:
        patched.setattr(Detector, "_detect_batch", broken)
        api = api_search(client, GOOD)
        page = page_search(client, GOOD)
    assert api.status_code == 422
    assert "could not be searched: the object detector failed on it" in api.json()["error"]
    assert page.status_code == 422
    assert "could not be searched" in page_error(page)
    assert_still_answers(client)
