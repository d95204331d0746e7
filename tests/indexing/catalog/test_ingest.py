"""Ingestion stores photos only, under names it chooses; anything else is refused with a reason."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from indexing.catalog import ingest
from indexing.models import SourceImage
from indexing.vision.errors import ImageError
from tests.factories import make_dataset
from tests.gcs import gcs_emulator, gcs_storage  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><body><script>fetch('/admin/')</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def stored_files(media_root: Path) -> list[Path]:
    return sorted(p for p in (media_root / "images").rglob("*") if p.is_file())


@pytest.fixture
def photo(coco_subset_files: list[Path]) -> bytes:
    return coco_subset_files[0].read_bytes()


def test_a_photo_is_stored_under_its_checksum_and_decoded_format(photo, media_root):
    dataset = make_dataset()
    image, created = ingest.ingest_image(dataset, "holiday.html", photo, "train")
    digest = hashlib.sha256(photo).hexdigest()
    assert created
    assert Path(image.file.name).name == f"{digest}.jpg"  # never the uploader's ".html"
    assert image.original_name == "holiday.html"  # kept for people, not for storage
    assert (image.width, image.height) > (0, 0)
    assert (media_root / image.file.name).read_bytes() == photo


@pytest.mark.parametrize(("data", "name"), [(HTML, "page.jpg"), (SVG, "logo.svg"), (b"", "empty.png")])
def test_anything_but_a_photo_is_refused_and_nothing_is_stored(data, name, media_root):
    dataset = make_dataset()
    before = stored_files(media_root)
    with pytest.raises(ImageError, match=name):
        ingest.ingest_image(dataset, name, data)
    assert not SourceImage.objects.filter(dataset=dataset).exists()
    assert stored_files(media_root) == before


def test_folder_indexing_skips_non_images_with_a_reason(tmp_path, coco_subset_files, media_root):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(coco_subset_files[0].read_bytes())
    (folder / "b.jpg").write_bytes(HTML)  # an image extension does not make an image
    dataset = make_dataset()

    result = ingest.ingest_files(dataset, ingest.dataset_image_files(folder))

    assert (result.added, result.existing) == (1, 0)
    assert list(result.refused) == [str(folder / "b.jpg")]
    assert "b.jpg" in result.refused[str(folder / "b.jpg")]
    assert list(SourceImage.objects.values_list("original_name", flat=True)) == ["a.jpg"]
    assert all(HTML not in path.read_bytes() for path in stored_files(media_root))


@pytest.mark.usefixtures("gcs_storage")
def test_two_uploads_of_one_photo_at_once_on_gcs_keep_the_winners_file(coco_subset_files, monkeypatch):
    """GCS overwrites a name instead of suffixing it: both uploads write the same object, and the
    one whose row loses the race must not delete the file the winner's row names."""
    from django.core.files.storage import default_storage, storages

    from indexing.models import Dataset

    dataset = make_dataset("gcs")
    data = coco_subset_files[0].read_bytes()
    media = storages["default"]
    real_save = type(media).save
    raced = []

    def save_after_the_winner(storage, name, content, max_length=None):
        if not raced:  # the other upload's row commits after this one checked, before it stores
            raced.append(True)
            ingest.ingest_image(Dataset.objects.get(pk=dataset.pk), "winner.jpg", data)
        return real_save(storage, name, content, max_length=max_length)

    monkeypatch.setattr(type(media), "save", save_after_the_winner)
    image, created = ingest.ingest_image(dataset, "loser.jpg", data)
    assert raced and not created and image.original_name == "winner.jpg"
    assert SourceImage.objects.filter(dataset=dataset).count() == 1
    assert default_storage.exists(image.file.name)  # the winner's photo is still there
