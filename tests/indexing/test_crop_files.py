"""Crop files: one naming scheme, whether the pipeline writes a crop or the admin replaces one."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from indexing.models import crop_file_name
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors

pytestmark = pytest.mark.django_db


def test_a_crop_file_saved_through_its_field_is_named_like_the_pipelines():
    image = make_image(make_dataset())
    first, second = (make_crop(image, vector) for vector in unit_vectors(2))
    first.file.save("replacement.png", ContentFile(png_bytes()), save=True)
    second.file.save("invoice.html", ContentFile(png_bytes()), save=True)
    assert first.file.name == crop_file_name(image, 0, ".png")
    # Never under an extension a browser would run as a page.
    assert second.file.name == crop_file_name(image, 1, ".bin")
    assert crop_file_name(image, 1).endswith(f"/{image.sha256[:2]}/{image.sha256}_1.jpg")
