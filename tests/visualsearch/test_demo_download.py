"""The online demo's COCO annotations: fetched over https and unzipped only when the checksum matches."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import pytest
import requests
from django.core.management import CommandError

from visualsearch.management.commands import demo


class ZipResponse:
    """What the bucket would answer: the archive, streamed."""

    def __init__(self, body: bytes) -> None:
        self.body, self.status_code = body, 200

    def raise_for_status(self) -> None:
        pass

    def iter_content(self, size: int):
        yield from (self.body[i : i + size] for i in range(0, len(self.body), size))

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def annotations_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("annotations/instances_val2017.json", '{"images": [], "annotations": [], "categories": []}')
    return buffer.getvalue()


@pytest.fixture
def served(monkeypatch) -> tuple[bytes, list[str]]:
    body, asked = annotations_zip(), []

    def get(url, **kwargs):
        asked.append(url)
        return ZipResponse(body)

    monkeypatch.setattr(requests, "get", get)
    return body, asked


def test_the_annotations_come_over_https_with_a_pinned_sha256():
    assert demo.COCO_ANNOTATIONS_URL.startswith("https://")
    assert re.fullmatch(r"[0-9a-f]{64}", demo.COCO_ANNOTATIONS_SHA256)


@pytest.mark.usefixtures("reachable_sources")
def test_an_archive_that_does_not_match_is_refused_and_never_unzipped(tmp_path, served):
    _, asked = served  # not the real archive: its sha256 differs from the pinned one
    with pytest.raises(CommandError, match="not the expected"):
        demo.fetch_coco_val_annotations(tmp_path)
    assert asked == [demo.COCO_ANNOTATIONS_URL]
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.usefixtures("reachable_sources")
def test_a_matching_archive_is_unzipped(tmp_path, served, monkeypatch):
    body, _ = served
    monkeypatch.setattr(demo, "COCO_ANNOTATIONS_SHA256", hashlib.sha256(body).hexdigest())
    target = demo.fetch_coco_val_annotations(tmp_path)
    assert target == tmp_path / "annotations" / "instances_val2017.json" and target.is_file()
    assert not (tmp_path / "annotations_trainval2017.zip").exists()
