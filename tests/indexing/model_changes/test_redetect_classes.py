"""The class set is data: DETECTOR_CLASSES=all makes every class of the checkpoint searchable after a redetect."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils.translation import override

from indexing import served_models
from indexing.model_changes import redetect
from indexing.model_changes.lifecycle import ChangeRefused
from indexing.models import Crop
from indexing.vision.classes import FIRST_SCOPE
from indexing.vision.detector import reset_detector
from search.label_names import display_name
from search.query import services
from search.query.errors import SearchInputError


@pytest.mark.django_db(transaction=True)
def test_all_classes_of_the_official_weights_are_searchable_after_a_redetect(indexed_demo, settings):
    seven_version = served_models.detector().version
    assert set(Crop.objects.values_list("label", flat=True)) <= FIRST_SCOPE
    with pytest.raises(ChangeRefused, match="already detected"):
        redetect.start_redetect()  # same classes, same weights: nothing to do

    settings.DETECTOR_CLASSES = ["all"]
    reset_detector()  # the operator's restart
    assert len(served_models.served_classes()) == 80
    change = redetect.start_redetect()
    assert change.version.startswith(seven_version) and "+classes80-" in change.version
    change = redetect.run_redetect(change_id=change.pk)

    labels = set(Crop.objects.values_list("label", flat=True))
    assert set(Crop.objects.values_list("detector_version", flat=True)) == {change.version}
    beyond = sorted(labels - FIRST_SCOPE)
    assert beyond, f"the demo photos hold only the first scope's classes: {labels}"
    label = beyond[0]
    found = services.search_text("a photo", k=5, labels=[label])
    assert found and {result.label for result in found} == {label}
    with override("ko"):  # named in the reader's language, as every class is
        assert services.search_text("a photo", k=5, labels=[display_name(label)])
    page = Client().get("/")
    assert f'name="labels" value="{label}"' in page.content.decode()


@pytest.mark.django_db
def test_a_label_the_detector_does_not_have_is_refused_with_the_classes_it_has(real_models, settings):
    settings.DETECTOR_CLASSES = ["person", "dog"]
    with pytest.raises(SearchInputError, match=r"Unknown label\(s\): car\. Known labels: person, dog"):
        services.search_text("a car", k=3, labels=["car"])
