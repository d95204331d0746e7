"""SEARCH_REQUIRE_AUTH, over real HTTP: one switch closes every read path, and opens it on login."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from rest_framework.authtoken.models import Token

from indexing.models import Crop, IndexingJob
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors
from tests.live import http_session


@pytest.fixture
def read_paths(transactional_db, real_models) -> dict[str, list[str]]:
    """Every kind of read path, pointing at rows that exist."""
    dataset = make_dataset()
    image = make_image(dataset)
    crops = [make_crop(image, vector) for vector in unit_vectors(2, seed=5)]
    crops[0].file.save("crop.png", ContentFile(png_bytes()), save=True)
    crop = Crop.objects.get(pk=crops[0].pk)
    job = IndexingJob.objects.create(dataset=dataset)
    return {
        "pages": ["/", "/search?q=a+car&mode=text", f"/crops/{crop.pk}", "/datasets"],
        "api": [
            "/api/search_text?query=a+car",
            f"/api/crops/{crop.pk}",
            f"/api/crops/{crop.pk}/similar",
            "/api/datasets",
            f"/api/jobs/{job.pk}",
            "/api/schema?format=json",
        ],
        "media": [crop.file.url, image.file.url],
    }


def test_every_read_path_is_refused_to_anonymous_users(live_server, settings, read_paths):
    settings.SEARCH_REQUIRE_AUTH = True
    anonymous = http_session()
    for path in read_paths["pages"]:
        response = anonymous.get(live_server.url + path, allow_redirects=False, timeout=60)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/accounts/login/?next="), path
    for path in read_paths["api"]:
        response = anonymous.get(live_server.url + path, allow_redirects=False, timeout=60)
        assert response.status_code in (401, 403), path
        assert response.json()["error"], path
    for path in read_paths["media"]:
        assert anonymous.get(live_server.url + path, allow_redirects=False, timeout=60).status_code == 403, path
    searched = anonymous.post(live_server.url + "/search", data={"mode": "image"}, allow_redirects=False, timeout=60)
    assert searched.status_code == 302
    # Load balancers and browsers still reach these.
    for path in ("/healthz", "/static/css/site.css", "/admin/login/", "/accounts/login/"):
        assert anonymous.get(live_server.url + path, allow_redirects=False, timeout=60).status_code == 200, path


def test_a_logged_in_user_reads_everything(live_server, settings, read_paths):
    settings.SEARCH_REQUIRE_AUTH = True
    user = User.objects.create_user("reader", password=None)  # not staff: any logged-in user may read
    session = http_session(user)
    for path in read_paths["pages"] + read_paths["api"] + read_paths["media"]:
        response = session.get(live_server.url + path, allow_redirects=False, timeout=60)
        assert response.status_code == 200, path
    # API clients log in with a token instead of a session.
    token = http_session()
    token.headers["Authorization"] = f"Token {Token.objects.create(user=user).key}"
    for path in read_paths["api"]:
        assert token.get(live_server.url + path, allow_redirects=False, timeout=60).status_code == 200, path


def test_everything_is_open_when_the_switch_is_off(live_server, settings, read_paths):
    settings.SEARCH_REQUIRE_AUTH = False
    anonymous = http_session()
    for path in read_paths["pages"] + read_paths["api"] + read_paths["media"]:
        assert anonymous.get(live_server.url + path, allow_redirects=False, timeout=60).status_code == 200, path


def test_a_reader_who_is_not_staff_logs_in_through_the_login_page(live_server, settings, read_paths):
    """The admin's login takes staff only; readers log in on the site's own page and land where they were going."""
    import re

    settings.SEARCH_REQUIRE_AUTH = True
    User.objects.create_user("reader", password="a long reader password")
    browser = http_session()
    page = browser.get(live_server.url + "/datasets", timeout=60)  # redirected to the login page
    assert page.url.startswith(live_server.url + "/accounts/login/?next=/datasets")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    wrong = browser.post(
        page.url,
        data={"username": "reader", "password": "wrong", "csrfmiddlewaretoken": token, "next": "/datasets"},
        headers={"Referer": page.url},
        timeout=60,
    )
    assert wrong.status_code == 200 and "did not match" in wrong.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', wrong.text).group(1)
    landed = browser.post(
        page.url,
        data={
            "username": "reader",
            "password": "a long reader password",
            "csrfmiddlewaretoken": token,
            "next": "/datasets",
        },
        headers={"Referer": page.url},
        timeout=60,
    )
    assert landed.status_code == 200 and landed.url == live_server.url + "/datasets"
