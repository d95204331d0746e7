"""Reciprocal-rank fusion: a collection where the words and the vectors disagree ranks as the rule says.

Vectors: crops A > B > C > D > G1 > G2 > F by cosine to the query vector. Words: D's
description matches "red bicycle" best, then C's, then F's; A, B, G1 and G2 say nothing
of it. Real rows, real PostgreSQL full-text search, pgvector ranking (no FAISS build).
"""

from __future__ import annotations

import numpy as np
import pytest

from indexing.models import Description
from search.query import services
from search.query.filters import NO_FILTER, build_filter
from search.query.text.fusion import fused_page, rrf
from search.query.text.words import text_matches
from tests.factories import make_crop, make_dataset, make_image

DIM = 512
SIMILARITY = {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.6, "G1": 0.5, "G2": 0.45, "F": 0.1}
WORDS = {
    "C": "a red bicycle on a street",
    "D": "a red bicycle, a red bicycle chained to a red bicycle rack",
    "F": "a red bicycle",
    "A": "a grey truck",
    "B": "a man walking",
}
VERSION = "test-embedder"


def query_vector() -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[0] = 1.0
    return vector


@pytest.fixture
def disagreeing(db) -> dict[str, int]:
    dataset = make_dataset("fusion")
    ids = {}
    for axis, (name, cosine) in enumerate(SIMILARITY.items(), start=1):
        vector = np.zeros(DIM, dtype=np.float32)
        vector[0], vector[axis] = cosine, np.sqrt(1 - cosine**2)
        crop = make_crop(make_image(dataset, seed=axis), vector, label="car" if name != "B" else "person")
        ids[name] = crop.pk
        if name in WORDS:
            Description.objects.create(crop=crop, text=WORDS[name], model="stub", prompt="p")
    return ids


def names(results, ids) -> list[str]:
    by_id = {pk: name for name, pk in ids.items()}
    return [by_id[r.crop_id] for r in results]


def page(settings, k=5, offset=0, crop_filter=NO_FILTER, query="red bicycle"):
    return fused_page(
        query, query_vector(), version=VERSION, k=k, offset=offset, crop_filter=crop_filter, min_score=None
    )


def test_full_text_search_ranks_by_the_words(disagreeing):
    found = text_matches("red bicycle", crop_filter=NO_FILTER, version=VERSION, limit=10)
    by_id = {pk: name for name, pk in disagreeing.items()}
    assert [by_id[pk] for pk in found] == ["D", "C", "F"]  # D says it thrice, C and F tie: the smaller id first
    assert text_matches('"red truck"', crop_filter=NO_FILTER, version=VERSION, limit=10) == {}  # websearch phrase
    assert set(text_matches("grey -truck", crop_filter=NO_FILTER, version=VERSION, limit=10)) == set()


def test_fused_order_follows_reciprocal_ranks_where_words_and_vectors_disagree(settings, disagreeing):
    settings.SEARCH_TEXT_FTS_MAX = 6  # lists 6 deep (a page of 5 + 1): F, 7th by vector, is found by its words
    found = page(settings, k=5)
    # By hand: D 1/64 + 1/61, C 1/63 + 1/62, A 1/61, B 1/62, F 1/63 (text only); then G1 1/65.
    assert names(found.results, disagreeing) == ["D", "C", "A", "B", "F"]
    assert found.next_offset == 5
    expected = {"D": rrf([4, 1]), "C": rrf([3, 2]), "A": rrf([1, None]), "B": rrf([2, None]), "F": rrf([None, 3])}
    for result, name in zip(found.results, names(found.results, disagreeing), strict=True):
        if name in expected:
            assert result.fused_score == pytest.approx(expected[name], abs=1e-6)
    ranked_by = dict(zip(names(found.results, disagreeing), [r.ranked_by for r in found.results], strict=True))
    assert ranked_by == {"D": "both", "C": "both", "A": "vector", "B": "vector", "F": "text"}
    f = found.results[4]
    assert f.score == pytest.approx(0.1, abs=1e-4)  # its CLIP similarity, computed for a words-only result
    assert f.text_rank == 3 and f.text_match > 0


def test_without_fusion_the_vectors_alone_rank(disagreeing):
    from search.query import paging

    pages = paging.pages(query_vector()[None, :], version=VERSION, k=4, offset=0, crop_filter=NO_FILTER, min_score=None)
    assert names(pages[0].results, disagreeing) == ["A", "B", "C", "D"]
    assert {r.ranked_by for r in pages[0].results} == {"vector"}


def test_filters_apply_to_both_lists_and_pages_join_up(settings, disagreeing):
    only_cars = build_filter(labels=["car"])
    assert "B" not in names(page(settings, k=7, crop_filter=only_cars).results, disagreeing)
    whole = page(settings, k=6)
    first, second = page(settings, k=3), page(settings, k=3, offset=3)
    assert first.next_offset == 3
    assert [r.crop_id for r in first.results + second.results] == [r.crop_id for r in whole.results]


def test_the_setting_switches_text_search(settings, db, real_models):
    settings.SEARCH_TEXT_FUSION = "sometimes"
    with pytest.raises(ValueError, match="SEARCH_TEXT_FUSION is 'sometimes'; use one of off, rrf"):
        services.search_text_page("a car")


def test_hidden_crops_and_other_labels_are_not_found_by_their_words(disagreeing):
    from indexing.models import Crop

    Crop.objects.filter(pk=disagreeing["D"]).update(is_active=False)
    found = text_matches("red bicycle", crop_filter=NO_FILTER, version=VERSION, limit=10)
    assert disagreeing["D"] not in found and disagreeing["C"] in found
    people = text_matches("man", crop_filter=build_filter(labels=["person"]), version=VERSION, limit=10)
    assert list(people) == [disagreeing["B"]]
    assert text_matches("man", crop_filter=build_filter(labels=["car"]), version=VERSION, limit=10) == {}
