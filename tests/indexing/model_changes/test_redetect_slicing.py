"""Changing the slicing settings is a detector change: it goes through redetect, never mixes crops."""

from __future__ import annotations

import pytest
from django.db import transaction

from indexing import served_models
from indexing.model_changes import redetect
from indexing.model_changes.lifecycle import ChangeRefused
from indexing.vision.detector import get_detector, reset_detector
from tests.factories import make_crop, make_dataset, make_image, unit_vectors


@pytest.fixture
def plain_settings(settings, yolov5n_weights):
    settings.DETECTOR_WEIGHTS = str(yolov5n_weights)
    settings.DETECTOR_FLIP = False
    settings.DETECTOR_SCALES = []
    settings.DETECTOR_TILE_SIZE = 0
    reset_detector()
    yield settings
    reset_detector()


@pytest.mark.django_db
def test_turning_slicing_on_needs_a_redetect_and_crops_of_the_old_version_are_refused(plain_settings) -> None:
    dataset = make_dataset()
    dataset.status = dataset.Status.ACTIVE
    dataset.save()
    photo = make_image(dataset)
    photo.status = photo.Status.DONE
    photo.save()
    plain_version = get_detector().version
    make_crop(photo, unit_vectors(1)[0], detector_version=plain_version)
    with pytest.raises(ChangeRefused, match="already detected"):
        redetect.start_redetect()

    plain_settings.DETECTOR_TILE_SIZE = 640  # the operator turns tiles on (and restarts: a fresh detector)
    reset_detector()
    change = redetect.start_redetect()
    assert change.version != plain_version and change.version.startswith(plain_version + "+t640")
    assert list(redetect.photos_to_redetect(version=change.version)) == [photo]
    # Crops made by the plain detector meanwhile (a process not restarted) are refused at the store.
    with transaction.atomic(), pytest.raises(served_models.ModelChanged):
        served_models.require_served(embedder_version=served_models.served_embedder_version(),
                                     detector_version=plain_version)  # fmt: skip
