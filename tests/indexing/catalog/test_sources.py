"""Crafted annotation files: paths that leave the images folder and URLs off the allowed hosts are refused.

No network: downloads go through a stand-in for the fetch function, or a fake session.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import indexing.catalog.sources as sources
from indexing.catalog.datasets import extract_coco_subset
from indexing.catalog.sources import DatasetError, fetch_image, fetch_verified_file, image_download_url
from indexing.models import Dataset

pytestmark = pytest.mark.django_db

S3 = "https://s3.amazonaws.com/images.cocodataset.org"


def crafted(tmp_path: Path, file_name: str, coco_url: str = "") -> Path:
    """One image with one person box: the smallest annotations file extract_coco_subset accepts."""
    coco = {
        "images": [{"id": 1, "file_name": file_name, "width": 100, "height": 100, "coco_url": coco_url}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "iscrowd": 0}],
        "categories": [{"id": 1, "name": "person"}],
    }
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(coco))
    return path


@pytest.fixture
def photo(coco_subset_files: list[Path]) -> bytes:
    return coco_subset_files[0].read_bytes()


@pytest.fixture
def fetched(monkeypatch, photo) -> list[str]:
    """Stand in for the network: record each URL and write a real photo where it was asked to go."""
    urls: list[str] = []

    def fake_fetch(session, url, dest, timeout):
        urls.append(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(photo)

    monkeypatch.setattr(sources, "fetch_image", fake_fetch)
    return urls


@pytest.mark.parametrize("file_name", ["../../escaped.jpg", "/tmp/escaped.jpg", "a/../../escaped.jpg", "C:\\x.jpg"])
def test_file_names_that_leave_the_images_folder_are_refused(tmp_path, fetched, file_name):
    images, out = tmp_path / "sandbox" / "images", tmp_path / "sandbox" / "out" / "v1"
    images.mkdir(parents=True)
    annotations = crafted(tmp_path, file_name, "http://images.cocodataset.org/val2017/1.jpg")
    with pytest.raises(DatasetError, match="outside the images folder"):
        extract_coco_subset(annotations, images, out, classes=["person"], download=True)
    assert fetched == []  # refused before anything is downloaded or written
    assert not out.exists() and not Dataset.objects.exists()
    assert not any(tmp_path.rglob("escaped.jpg"))


def test_a_symlink_leading_out_of_the_images_folder_is_refused(tmp_path, photo):
    secret = tmp_path / "outside" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes(photo)
    images = tmp_path / "images"
    images.mkdir()
    (images / "innocent.jpg").symlink_to(secret)
    out = tmp_path / "out" / "v1"
    with pytest.raises(DatasetError, match="symlink"):
        extract_coco_subset(crafted(tmp_path, "innocent.jpg"), images, out, classes=["person"], copy=True)
    assert not out.exists()


@pytest.mark.usefixtures("reachable_sources")
def test_images_download_over_https_from_coco_only(tmp_path, fetched, photo):
    images = tmp_path / "images"
    annotations = crafted(
        tmp_path, "val2017/000000000139.jpg", "http://images.cocodataset.org/val2017/000000000139.jpg"
    )
    result = extract_coco_subset(annotations, images, tmp_path / "out" / "v1", classes=["person"], download=True)
    assert fetched == [f"{S3}/val2017/000000000139.jpg"]
    assert (images / "val2017" / "000000000139.jpg").read_bytes() == photo
    assert result.manifest["counts"]["images"] == 1


@pytest.mark.parametrize(
    "coco_url",
    [
        "http://evil.example.com/1.jpg",
        "https://images.cocodataset.org.evil.example.com/1.jpg",
        "http://127.0.0.1:8000/admin/",
        "https://user:secret@images.cocodataset.org/1.jpg",
        "https://images.cocodataset.org:8443/1.jpg",
        "file:///etc/passwd",
        "ftp://images.cocodataset.org/1.jpg",
    ],
)
def test_urls_off_the_allowed_hosts_are_refused_before_any_download(tmp_path, fetched, coco_url):
    annotations = crafted(tmp_path, "1.jpg", coco_url)
    with pytest.raises(DatasetError, match="Refusing coco_url"):
        extract_coco_subset(
            annotations, tmp_path / "images", tmp_path / "out" / "v1", classes=["person"], download=True
        )
    assert fetched == []


def test_other_hosts_are_allowed_by_setting_and_only_over_https(settings):
    settings.COCO_IMAGE_HOSTS = ["images.cocodataset.org", "mirror.example.org"]
    assert image_download_url("https://mirror.example.org/a/1.jpg?v=2") == "https://mirror.example.org/a/1.jpg?v=2"
    with pytest.raises(DatasetError, match="https only"):
        image_download_url("http://mirror.example.org/a/1.jpg")
    assert image_download_url(f"{S3}/val2017/1.jpg") == f"{S3}/val2017/1.jpg"


class FakeResponse:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code, self.body = status, body

    def iter_content(self, size: int):
        for start in range(0, len(self.body), size):
            yield self.body[start : start + size]

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            import requests

            raise requests.HTTPError(f"{self.status_code}")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class FakeSession:
    def __init__(self, response: FakeResponse) -> None:
        self.response, self.calls = response, []

    def get(self, url, **kwargs):
        self.calls.append(kwargs)
        return self.response


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [(200, b"<html><script>alert(1)</script></html>", "not a photo"), (302, b"", "answered 302")],
)
def test_a_download_that_is_not_a_photo_is_not_kept(tmp_path, status, body, reason):
    session = FakeSession(FakeResponse(status, body))
    dest = tmp_path / "1.jpg"
    with pytest.raises(DatasetError, match=reason):
        fetch_image(session, f"{S3}/val2017/1.jpg", dest, timeout=5)
    assert session.calls[0]["allow_redirects"] is False
    assert not dest.exists() and not list(tmp_path.iterdir())


@pytest.mark.usefixtures("reachable_sources")
def test_a_whole_file_is_kept_only_when_its_checksum_matches(tmp_path, monkeypatch):
    import requests

    body = b"PK\x03\x04 pretend zip" * 1000
    monkeypatch.setattr(requests, "get", lambda url, **kwargs: FakeResponse(200, body))
    dest = tmp_path / "annotations.zip"
    with pytest.raises(DatasetError, match="not the expected"):
        fetch_verified_file("https://example.org/a.zip", dest, "0" * 64)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .part
    with pytest.raises(DatasetError, match="https and a known sha256"):
        fetch_verified_file("http://example.org/a.zip", dest, hashlib.sha256(body).hexdigest())
    assert fetch_verified_file("https://example.org/a.zip", dest, hashlib.sha256(body).hexdigest()) == dest
    assert dest.read_bytes() == body


def test_a_download_host_that_does_not_answer_fails_at_once_with_the_offline_settings(tmp_path, monkeypatch):
    import socket
    import time

    from indexing.catalog.sources import DownloadSourceUnreachable, fetch_verified_file
    from indexing.vision.weights import downloads

    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once it is closed
    downloads.forget_verdicts()
    started = time.monotonic()
    with pytest.raises(DownloadSourceUnreachable, match="DEMO_IMAGES") as caught:
        fetch_verified_file(f"https://127.0.0.1:{port}/annotations.zip", tmp_path / "a.zip", "0" * 64)
    downloads.forget_verdicts()
    assert time.monotonic() - started < 3
    assert str(caught.value).startswith("Cannot download annotations.zip: 127.0.0.1:")
    assert not list(tmp_path.iterdir())
