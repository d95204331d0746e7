""" "Why this matched" from the describer, bounded: a slow model never holds the request past its time
budget (its late answer is cached for the next one), and only the top results are explained."""

from __future__ import annotations

import time

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile

from indexing.vision.describe import reset_describers
from indexing.vision.embedder import get_embedder
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors
from tests.vlm_stub import running_stub

SENTENCE = "Both are hatchbacks; the query's is not dented."


@pytest.fixture
def crops(db, real_models):
    dataset = make_dataset("why-bounded")
    made = []
    for i, vector in enumerate(unit_vectors(2, seed=11)):
        crop = make_crop(make_image(dataset, seed=i), vector, label="car", confidence=0.8)
        crop.file.save(f"why{i}.png", ContentFile(png_bytes()), save=True)
        made.append(crop)
    return made


@pytest.fixture
def slow_vlm(settings):
    cache.clear()
    with running_stub() as stub:
        settings.EXPLAIN_WITH_VLM = True
        settings.DESCRIPTIONS_BACKEND, settings.DESCRIPTIONS_MODEL = "openai", "stub-vlm"
        settings.DESCRIPTIONS_API_URL = stub.url
        settings.DESCRIPTIONS_TIMEOUT_SECONDS = 10.0
        stub.answer = lambda prompt, has_image: SENTENCE
        reset_describers()
        yield stub
    reset_describers()


def test_a_slow_model_gives_the_template_within_the_budget_and_its_late_answer_next_time(
    crops, slow_vlm, settings, client
):
    settings.EXPLAIN_TIME_BUDGET_SECONDS = 0.5
    slow_vlm.delay = 2.5
    url = f"/api/crops/{crops[0].pk}/why"
    started = time.perf_counter()
    first = client.get(url, {"q": "a red car"})
    took = time.perf_counter() - started
    assert first.status_code == 200, first.content
    body = first.json()
    assert took < 0.5 + 1.0, f"the request waited {took:.2f} s on a model past a 0.5 s budget"
    assert body["source"] == "template" and body["sentence"].startswith("Found because")
    assert body["fallback"] == "time budget" and "did not answer within 0.5 s" in body["note"]
    deadline = time.monotonic() + 10
    while client.get(url, {"q": "a red car"}).json()["source"] != "vlm":  # the model's answer, once it came
        assert time.monotonic() < deadline, "the late answer was never cached"
        time.sleep(0.3)
    later = client.get(url, {"q": "a red car"}).json()
    assert later["sentence"] == SENTENCE and later["fallback"] == ""
    assert len(slow_vlm.requests) == 1  # asked once: the late answer served every later request


def test_only_a_top_result_is_explained_by_the_model(crops, slow_vlm, settings, client):
    settings.EXPLAIN_MAX_RESULTS = 1
    query = "a red car"
    vector = get_embedder().embed_texts([query])[0]
    best, other = sorted(crops, key=lambda crop: -float(np.dot(vector, crop.embedding)))
    body = client.get(f"/api/crops/{other.pk}/why", {"q": query}).json()
    assert body["source"] == "template" and body["fallback"] == "not a top result"
    assert "only the top 1 results" in body["note"]
    assert slow_vlm.requests == []  # the model was never asked about it
    assert client.get(f"/api/crops/{best.pk}/why", {"q": query}).json()["source"] == "vlm"


def test_a_top_result_of_a_filtered_search_is_explained_under_that_filter(crops, slow_vlm, settings, client):
    # A rare label's best crop is far down the whole collection's list: ranked without the search's
    # filter, the result the user is looking at would never get the model's sentence.
    settings.EXPLAIN_MAX_RESULTS = 1
    query = "a red car"
    vector = get_embedder().embed_texts([query])[0]
    phone = make_crop(make_image(crops[0].image.dataset, seed=7), -vector, label="cell phone", confidence=0.7)
    phone.file.save("phone.png", ContentFile(png_bytes()), save=True)
    url = f"/api/crops/{phone.pk}/why"
    unfiltered = client.get(url, {"q": query}).json()
    assert unfiltered["fallback"] == "not a top result"  # the last of the whole collection
    other_dataset = client.get(url, {"q": query, "datasets": str(make_dataset("elsewhere").pk)}).json()
    assert other_dataset["fallback"] == "not a top result"  # not in that dataset at all
    assert slow_vlm.requests == []
    body = client.get(url, {"q": query, "labels": "cell phone"}).json()
    assert body["source"] == "vlm" and body["sentence"] == SENTENCE, body
    refused = client.get(url, {"q": query, "labels": "spaceship"})
    assert refused.status_code == 400 and "spaceship" in refused.json()["error"]
