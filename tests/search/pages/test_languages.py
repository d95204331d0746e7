"""The site in the reader's language: Accept-Language, the language switch, class names and error texts in Korean."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from search.label_names import COCO_NAMES, stored_labels
from search.query import services
from search.query.errors import SearchInputError
from tests.factories import make_crop, make_dataset, make_image, unit_vectors

KO = {"HTTP_ACCEPT_LANGUAGE": "ko-KR,ko;q=0.9,en;q=0.5"}


@pytest.mark.django_db
def test_english_stays_the_default_and_accept_language_ko_gives_korean(client):
    english = client.get("/").content.decode()
    assert '<html lang="en">' in english and "Find objects in photos" in english
    korean = client.get("/", **KO).content.decode()
    assert '<html lang="ko">' in korean and "사진 속 물체 찾기" in korean
    assert "Find objects in photos" not in korean
    # Class names in the reader's language; the checkbox still sends the stored label.
    assert 'value="car"' in korean and "> 자동차</label>" in korean


@pytest.mark.django_db
def test_the_language_switch_keeps_the_query(client):
    page = "/search?mode=text&q=%EB%B9%A8%EA%B0%84+%EC%9E%90%EB%8F%99%EC%B0%A8&k=3"
    answer = client.post("/i18n/setlang/", {"language": "ko", "next": page})
    assert answer.status_code == 302
    target = urlsplit(answer["Location"])
    assert target.path == "/search" and parse_qs(target.query) == {"mode": ["text"], "q": ["빨간 자동차"], "k": ["3"]}
    # The choice is remembered (its cookie) over what the browser asks for.
    assert "사진 속 물체 찾기" in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


@pytest.mark.django_db
def test_the_switch_on_a_text_results_page_points_back_at_that_page(client):
    body = client.get("/search", {"mode": "text", "q": ""}, **KO).content.decode()  # refused: still the form
    assert 'action="/i18n/setlang/"' in body and 'value="/search?mode=text&amp;q="' in body
    assert 'name="language" value="en"' in body and ">English</button>" in body


@pytest.mark.django_db
def test_form_and_query_errors_are_in_the_readers_language(client):
    answer = client.get("/search", {"mode": "text", "q": "   "}, **KO)
    assert answer.status_code == 400 and "검색할 단어를 입력하세요." in answer.content.decode()
    answer = client.get("/search", {"mode": "text", "q": "car", "k": "many"}, **KO)
    assert "결과 수는 1부터" in answer.content.decode()
    unknown = {"query": "car", "labels": ["unicorn"]}
    api = client.post("/api/search/text", unknown, content_type="application/json", **KO)
    assert api.status_code == 400 and api.json()["error"].startswith("알 수 없는 라벨: unicorn.")
    assert "자동차 (car)" in api.json()["error"]  # the names the reader may use
    english = client.post("/api/search/text", unknown, content_type="application/json")
    assert english.json()["error"].startswith("Unknown label(s): unicorn. Known labels: person, car,")


def test_label_filters_accept_korean_names(db, monkeypatch):
    dataset = make_dataset("labels")
    vectors = unit_vectors(4, seed=3)
    for i, label in enumerate(["car", "person", "car", "book"]):
        make_crop(make_image(dataset, seed=i), vectors[i], label=label, embedder_version="test-clip@v1")
    monkeypatch.setattr(services.text_queries, "embed_query", lambda query: (vectors[0], "test-clip@v1"))
    found = services.search_text("빨간 자동차", k=10, labels=["자동차"])
    assert len(found) == 2 and {r.label for r in found} == {"car"}
    assert {r.label for r in services.search_text("x", k=10, labels="자동차, 책")} == {"car", "book"}
    assert {r.label for r in services.search_text("x", k=10, labels=["car", "자동차"])} == {"car"}  # once
    with pytest.raises(SearchInputError, match="Unknown label"):
        services.search_text("x", k=10, labels=["고양이"])  # a COCO name, but not one of DETECTOR_CLASSES


def test_every_coco_name_has_a_distinct_korean_name():
    from django.utils.translation import gettext, override

    with override("ko"):
        korean = [gettext(name) for name in COCO_NAMES]
    assert len(COCO_NAMES) == 80 and len(set(korean)) == 80
    assert all(k != name for k, name in zip(korean, COCO_NAMES, strict=True))
    assert stored_labels(["자동차", "휴대폰", "Car", "unicorn"], settings.DETECTOR_CLASSES) == [
        "car",
        "cell phone",
        "car",
        "unicorn",
    ]
