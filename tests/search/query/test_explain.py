""" "Why this matched": the score broken down, a template sentence by default, the describer's when asked (cached)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile

from indexing.models import Description
from indexing.vision.describe import reset_describers
from indexing.vision.embedder import get_embedder
from search.query import explain
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors
from tests.vlm_stub import closed_port_url, running_stub


@pytest.fixture
def crop(db, real_models):
    made = make_crop(make_image(make_dataset("why")), unit_vectors(1, seed=9)[0], label="car", confidence=0.81)
    made.file.save("why.png", ContentFile(png_bytes()), save=True)
    Description.objects.create(crop=made, text="a dented turquoise hatchback car", model="stub", prompt="p")
    return made


@pytest.fixture
def vlm(settings):
    with running_stub() as stub:
        settings.EXPLAIN_WITH_VLM = True
        settings.DESCRIPTIONS_BACKEND, settings.DESCRIPTIONS_MODEL = "openai", "stub-vlm"
        settings.DESCRIPTIONS_API_URL = stub.url
        stub.answer = lambda prompt, has_image: "Both are hatchbacks; the query's is not dented." if has_image else "?"
        reset_describers()
        yield stub
    reset_describers()


def test_the_breakdown_and_the_template_sentence(crop):
    found = explain.explain(crop.pk, "turquoise hatchback car")
    expected = float(np.dot(get_embedder().embed_texts(["turquoise hatchback car"])[0], crop.embedding))
    assert found.visual_similarity == pytest.approx(expected, abs=1e-5)
    assert found.text_match > 0 and found.matched_description == "a dented turquoise hatchback car"
    assert found.label_agreement is True and found.detector_confidence == pytest.approx(0.81)
    assert found.source == "template"
    assert "its description “a dented turquoise hatchback car” shares the query's words" in found.sentence
    assert "the query names its label, car" in found.sentence
    other = explain.explain(crop.pk, "a striped cart")
    assert other.text_match is None and other.label_agreement is False  # "cart" does not name "car"
    assert "does not name its label (car)" in other.sentence


def test_the_api_says_why_and_asks_the_describer_once_per_model(crop, vlm, client):
    url = f"/api/crops/{crop.pk}/why"
    first = client.get(url, {"q": "turquoise hatchback"})
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["source"] == "vlm" and body["sentence"] == "Both are hatchbacks; the query's is not dented."
    assert body["model"] == f"openai:stub-vlm@{vlm.url}"
    assert body["text_match"] > 0 and body["label"] == "car"
    assert client.get(url, {"q": "turquoise hatchback"}).json()["sentence"] == body["sentence"]
    assert len(vlm.requests) == 1  # cached per model version, crop and query


def test_a_dead_describer_gives_the_template_with_the_reason(crop, vlm, settings, client):
    settings.DESCRIPTIONS_API_URL = closed_port_url()
    reset_describers()
    body = client.get(f"/api/crops/{crop.pk}/why", {"q": "turquoise hatchback"}).json()
    assert body["source"] == "template" and body["sentence"].startswith("Found because")
    assert "could not be reached" in body["note"]


def test_the_crop_page_shows_why_from_the_template_without_asking_a_model(crop, vlm, client):
    page = client.get(f"/crops/{crop.pk}", {"q": "turquoise hatchback"}).content.decode()
    assert "Why this matched “turquoise hatchback”: Found because" in page
    assert "a dented turquoise hatchback car" in page  # its description, shown with its model
    assert vlm.requests == []  # the page never waits on a model


def test_its_photos_description_counts_when_it_matches_better(crop):
    Description.objects.create(image=crop.image, text="a wedding on a sandy beach", model="stub", prompt="p")
    found = explain.explain(crop.pk, "sandy beach")
    assert found.text_match > 0 and found.matched_description == "a wedding on a sandy beach"
    assert found.matched_photo is True
    assert "its photo's description “a wedding on a sandy beach” shares the query's words" in found.sentence
    own = explain.explain(crop.pk, "turquoise hatchback")
    assert own.matched_photo is False and own.matched_description == "a dented turquoise hatchback car"


def test_an_unknown_crop_is_not_found(db, real_models, client):
    assert client.get("/api/crops/999999/why", {"q": "a car"}).status_code == 404


def test_a_query_in_any_language_is_explained_with_the_vector_search_ranked_by(crop, multilingual_queries):
    # TEXT_ENCODER set: search embeds a Korean query with it, so the similarity shown must be that one
    # (the CLIP's own text tower, which reads no Korean, would give another number).
    from indexing import text_queries
    from search.query import services

    query = "빨간 자동차"
    found = explain.explain(crop.pk, query)
    searched = services.search_text_page(query, 1).results[0]
    assert searched.crop_id == crop.pk
    assert found.visual_similarity == pytest.approx(searched.score, abs=1e-5)
    vector, _ = text_queries.embed_query(query)
    assert found.visual_similarity == pytest.approx(float(np.dot(vector, crop.embedding)), abs=1e-5)
    tower = float(np.dot(get_embedder().embed_texts([query])[0], crop.embedding))
    assert abs(found.visual_similarity - tower) > 1e-4  # the two encoders differ: the check above can fail
    # The query names the label in Korean, with the particle Korean writes inside the word.
    assert found.label_agreement is True and "the query names its label, car" in found.sentence
    assert explain.explain(crop.pk, "빨간 자동차를").label_agreement is True
    assert explain.explain(crop.pk, "빨간 자전거").label_agreement is False  # a bicycle is not a car


def test_the_sentence_is_in_the_reader_s_language_on_the_page_and_in_the_api(crop, client):
    korean = client.get(f"/api/crops/{crop.pk}/why", {"q": "turquoise car"}, HTTP_ACCEPT_LANGUAGE="ko").json()
    assert korean["sentence"].startswith("찾은 이유: CLIP이 보기에 “turquoise car”와 닮았습니다")
    assert "설명 “a dented turquoise hatchback car”에 검색어의 단어가 있습니다" in korean["sentence"]
    assert "검색어에 레이블 자동차이(가) 들어 있습니다" in korean["sentence"]  # the label by its Korean name
    assert "검출기가 자동차을(를) 신뢰도 0.81로 보았습니다" in korean["sentence"]
    assert "Found" not in korean["sentence"] and korean["label"] == "car"  # the stored label stays as it is
    english = client.get(f"/api/crops/{crop.pk}/why", {"q": "turquoise car"}, HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["sentence"].startswith("Found because it looks like “turquoise car” to CLIP")
    page = client.get(f"/crops/{crop.pk}", {"q": "turquoise car"}, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "찾은 이유: CLIP이 보기에" in page
