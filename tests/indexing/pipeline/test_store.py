"""The store step: a batch's crops in one COPY, images marked done once; index reads wait for it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image

from indexing.models import Crop, SourceImage
from indexing.pipeline.store import AnalysedImage, store_batch
from indexing.vectors import newest_stored_crop_id
from indexing.vision.crops import PlannedCrop
from tests.factories import make_dataset, make_image, unit_vectors


def analysed(image: SourceImage, count: int, seed: int) -> AnalysedImage:
    pixels = Image.new("RGB", (40, 30), (200, 10, 10))
    crops = [PlannedCrop("car", 0.8, (1.0 + i, 2.0, 30.0 + i, 25.0), pixels) for i in range(count)]
    return AnalysedImage(image, (64, 48), crops, unit_vectors(count, seed=seed))


@pytest.mark.django_db
def test_a_batch_is_stored_once_with_its_files_and_vectors():
    dataset = make_dataset()
    images = [make_image(dataset, seed=i) for i in range(3)]
    batch = [analysed(image, 2 + i, seed=i) for i, image in enumerate(images)]
    assert store_batch(batch, detector_version="d1", embedder_version="e1") == {i.pk for i in images}
    crops = list(Crop.objects.order_by("pk"))
    assert len(crops) == 2 + 3 + 4
    assert all(c.file and c.file.storage.exists(c.file.name) for c in crops)
    np.testing.assert_allclose(np.asarray(crops[0].embedding), batch[0].vectors[0], atol=1e-6)
    assert crops[0].box == (1.0, 2.0, 30.0, 25.0) and crops[0].embedder_version == "e1"
    assert set(SourceImage.objects.values_list("status", flat=True)) == {"done"}
    # Redelivered: nothing is written twice.
    assert store_batch(batch, detector_version="d1", embedder_version="e1") == set()
    assert Crop.objects.count() == 9


@pytest.mark.django_db(transaction=True)
def test_reading_the_newest_id_waits_for_a_store_in_flight():
    """Else an index build could read past a smaller id that commits later, and never hold that crop."""
    image = make_image(make_dataset())
    inside, release, seen = threading.Event(), threading.Event(), []

    def slow_store():
        from indexing import vectors

        original = vectors.copy_crop_rows

        def copy_then_wait(rows):
            original(rows)
            inside.set()
            release.wait(10)

        try:
            with transaction.atomic():
                vectors.lock_for_store()
                copy_then_wait(
                    [(image.pk, "car", 0.9, 0.0, 0.0, 1.0, 1.0, "", unit_vectors(1)[0], "d", "e", True, timezone.now())]
                )
        finally:
            connection.close()

    def read_newest():
        seen.append(newest_stored_crop_id())
        connection.close()

    writer = threading.Thread(target=slow_store)
    writer.start()
    assert inside.wait(10)
    reader = threading.Thread(target=read_newest)
    reader.start()
    time.sleep(0.5)
    assert not seen, "the newest id was read while a store transaction was still open"
    release.set()
    writer.join(10)
    reader.join(10)
    assert seen == [Crop.objects.get().pk]
