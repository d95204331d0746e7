"""Media over real HTTP: images that never run as pages, only photos and active crops, no index files."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.files.base import ContentFile

from indexing.ann import builds
from indexing.models import SourceImage
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors

SCRIPT_HTML = b"<!doctype html><script>document.title = 'ran'</script>"
SCRIPT_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
PAGE_TYPES = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml")


@pytest.fixture
def photo(transactional_db) -> SourceImage:
    image = make_image(make_dataset())
    crop = make_crop(image, unit_vectors(1)[0])
    crop.file.save("crop.png", ContentFile(png_bytes()), save=True)
    return image


def get(base: str, url: str) -> requests.Response:
    return requests.get(base + url, allow_redirects=False, timeout=60)


def assert_inert(response: requests.Response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy


def test_photos_and_crops_are_served_as_images_that_cannot_run(live_server, photo):
    crop = photo.crops.get()
    for url, content_type in ((photo.file.url, "image/png"), (crop.file.url, "image/png")):
        response = get(live_server.url, url)
        assert response.status_code == 200, url
        assert response.headers["Content-Type"] == content_type
        assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert_inert(response)


def test_html_and_svg_under_media_root_are_never_pages(live_server, photo):
    media = Path(settings.MEDIA_ROOT)
    stray = {
        "evil.html": SCRIPT_HTML,
        "images/evil.html": SCRIPT_HTML,
        f"images/{photo.dataset_id}/evil.svg": SCRIPT_SVG,
        "crops/evil.svg": SCRIPT_SVG,
        "other/evil.png": png_bytes(),
    }
    for name, data in stray.items():
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(data)
        response = get(live_server.url, settings.MEDIA_URL + name)
        assert response.status_code == 404, name
        assert data not in response.content, name  # (the 404 is Django's own page, not the file)

    # Photos stored under a script's name (before uploads were checked): downloads, not pages.
    for index, (name, data) in enumerate((("x.svg", SCRIPT_SVG), ("x.html", SCRIPT_HTML))):
        stored = f"images/{photo.dataset_id}/{name}"
        (media / stored).write_bytes(data)
        SourceImage.objects.create(dataset_id=photo.dataset_id, sha256=f"{index:064d}", original_name=name, file=stored)
        response = get(live_server.url, settings.MEDIA_URL + stored)
        assert response.status_code == 200, name
        assert response.headers["Content-Type"] == "application/octet-stream", name
        assert not response.headers["Content-Type"].startswith(PAGE_TYPES), name
        assert response.headers["Content-Disposition"].startswith("attachment"), name
        assert_inert(response)


def test_index_files_live_outside_media_and_no_url_reaches_them(live_server, photo):
    build = builds.publish_build("Flat")
    path = Path(build.file.path).resolve()
    assert path.is_file()
    assert not path.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert path.is_relative_to(Path(settings.INDEX_ROOT).resolve())
    for url in (settings.MEDIA_URL + build.file.name, f"{settings.MEDIA_URL}indexes/{path.name}"):
        assert get(live_server.url, url).status_code == 404, url
    with pytest.raises(ValueError, match="no URL"):
        build.file.url  # noqa: B018 - the attribute access is the test


def test_a_nul_byte_in_a_media_path_is_a_404_not_a_500(live_server, photo):
    crop = photo.crops.get()
    assert get(live_server.url, crop.file.url).status_code == 200
    for url in (crop.file.url + "%00", crop.file.url.replace("crops/", "crops/%00"), f"{settings.MEDIA_URL}images/%00"):
        response = get(live_server.url, url)
        assert response.status_code == 404, url
