"""GET /api/labels: what the label filters accept, named in the reader's language."""

from __future__ import annotations

import pytest
from django.test import Client

from indexing.vision.detector import reset_detector


@pytest.mark.django_db
def test_labels_are_the_configured_classes_named_in_the_request_language(settings):
    settings.DETECTOR_CLASSES = ["person", "car", "dog"]
    body = Client().get("/api/labels", HTTP_ACCEPT_LANGUAGE="ko").json()
    assert body["count"] == 3
    assert body["labels"][1] == {"label": "car", "name": "자동차"}
    english = Client().get("/api/labels", HTTP_ACCEPT_LANGUAGE="en").json()
    assert [item["name"] for item in english["labels"]] == ["person", "car", "dog"]


@pytest.mark.django_db
def test_all_lists_every_class_of_the_served_checkpoint(settings, real_models):
    settings.DETECTOR_CLASSES = ["all"]
    reset_detector()
    body = Client().get("/api/labels").json()
    assert body["count"] == 80 and {"label": "teddy bear", "name": "teddy bear"} in body["labels"]
