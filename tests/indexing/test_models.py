"""Rows with embeddings through the ORM, nearest neighbours through pgvector."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from indexing.models import Crop, IndexingJob, SourceImage, crop_file_name
from indexing.vectors import exact_nearest
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors

pytestmark = pytest.mark.django_db


def test_vector_extension_is_installed(django_db_blocker):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cursor.fetchone() is not None


def test_cosine_nearest_neighbours_match_numpy():
    dataset = make_dataset()
    image = make_image(dataset)
    vectors = unit_vectors(200, seed=1)
    crops = [make_crop(image, vector) for vector in vectors]
    ids = np.array([crop.pk for crop in crops])

    for query in unit_vectors(5, seed=2):
        rows = exact_nearest(Crop.objects.all(), query, 10)
        expected_order = np.argsort(-(vectors @ query))[:10]
        assert [row.pk for row in rows] == list(ids[expected_order])
        np.testing.assert_allclose([1 - row.distance for row in rows], (vectors @ query)[expected_order], atol=1e-5)


def test_embedding_round_trips_as_float_vector():
    image = make_image(make_dataset())
    vector = unit_vectors(1, seed=3)[0]
    crop = make_crop(image, vector)
    stored = np.asarray(Crop.objects.get(pk=crop.pk).embedding, dtype=np.float32)
    assert stored.shape == (512,)
    np.testing.assert_allclose(stored, vector, atol=1e-6)


def test_embedding_of_wrong_dimension_is_refused():
    image = make_image(make_dataset())
    with pytest.raises(Exception, match="512"), transaction.atomic():
        make_crop(image, np.zeros(128, dtype=np.float32))


@pytest.mark.parametrize(
    "box",
    [
        {"x1": 10, "x2": 10},  # zero width
        {"y1": 50, "y2": 40},  # inverted
        {"x1": -1},  # outside the image
    ],
)
def test_crop_box_check_constraint(box):
    image = make_image(make_dataset())
    with pytest.raises(IntegrityError, match="crop_bbox_valid"), transaction.atomic():
        make_crop(image, unit_vectors(1)[0], **box)
    assert Crop.objects.count() == 0


def test_crop_confidence_check_constraint():
    image = make_image(make_dataset())
    with pytest.raises(IntegrityError, match="crop_confidence_0_1"), transaction.atomic():
        make_crop(image, unit_vectors(1)[0], confidence=1.5)


def test_image_sha256_is_unique_per_dataset_only():
    first, second = make_dataset("a"), make_dataset("b")
    image = make_image(first, seed=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        SourceImage.objects.create(dataset=first, sha256=image.sha256, file=image.file.name)
    # The same photo may belong to another dataset.
    SourceImage.objects.create(dataset=second, sha256=image.sha256, file=image.file.name)


def test_job_cannot_process_more_than_its_total():
    dataset = make_dataset()
    with pytest.raises(IntegrityError, match="job_processed_le_total"), transaction.atomic():
        IndexingJob.objects.create(dataset=dataset, total_images=2, processed_images=3)


def test_a_crop_file_saved_through_its_field_is_named_like_the_pipelines():
    image = make_image(make_dataset())
    first, second = (make_crop(image, vector) for vector in unit_vectors(2))
    first.file.save("replacement.png", ContentFile(png_bytes()), save=True)
    second.file.save("invoice.html", ContentFile(png_bytes()), save=True)
    assert first.file.name == crop_file_name(image, 0, ".png")
    # Never under an extension a browser would run as a page.
    assert second.file.name == crop_file_name(image, 1, ".bin")
    assert crop_file_name(image, 1).endswith(f"/{image.sha256[:2]}/{image.sha256}_1.jpg")
