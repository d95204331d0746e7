"""Folding copies of a photo: one result per duplicate group, with its copies; the pages' default."""

from __future__ import annotations

from rest_framework.test import APIClient

from indexing.models import DuplicateGroup, DuplicateMember
from search.query import collapse, services
from tests.search.api.test_duplicates import EVERYTHING, grouped  # noqa: F401 (the fixture: two photos, a copy of each)


def test_each_kept_result_carries_the_best_result_of_each_other_photo_of_its_group(grouped):  # noqa: F811
    plain = services.search_text("a photo", EVERYTHING)
    folded = services.search_text("a photo", EVERYTHING, collapse_duplicates=True)
    groups = dict(DuplicateMember.objects.values_list("image_id", "group_id"))
    assert len(folded) == 2
    for kept in folded:
        others = {r.image_id for r in plain if groups[r.image_id] == groups[kept.image_id]} - {kept.image_id}
        assert others, "each group has a copy among the results"
        assert [c.image_id for c in kept.copies] == sorted(others, key=lambda i: [r.image_id for r in plain].index(i))
        best_of_copy = next(r for r in plain if r.image_id == kept.copies[0].image_id)
        assert kept.copies[0] == best_of_copy  # the copy's best result, not any of its crops


def test_the_page_folds_copies_by_default_and_shows_every_copy_when_asked(grouped):  # noqa: F811
    client = APIClient()
    every = len(services.search_text("a photo", EVERYTHING))
    page = client.get("/search", {"q": "a photo", "k": EVERYTHING, "mode": "text"}).content.decode()
    assert page.count('class="result" data-copies="1"') == 2 and page.count("+1 copy</summary>") == 2
    assert 'id="show-copies"' in page and 'id="show-copies" checked' not in page

    shown = client.get("/search", {"q": "a photo", "k": EVERYTHING, "mode": "text", "show_copies": "1"})
    shown = shown.content.decode()
    assert shown.count('class="result"') == every > 2 and "copy</summary>" not in shown
    assert 'id="show-copies" checked' in shown


def test_the_api_folds_only_when_asked(grouped):  # noqa: F811
    body = APIClient().post("/api/search/text", {"query": "a photo", "k": EVERYTHING}, format="json").json()
    assert body["count"] == len(services.search_text("a photo", EVERYTHING)) > 2


def test_without_duplicate_groups_nothing_is_folded_and_the_switch_is_hidden(grouped):  # noqa: F811
    DuplicateGroup.objects.all().delete()
    assert not collapse.fold_by_default()
    page = APIClient().get("/search", {"q": "a photo", "k": EVERYTHING, "mode": "text"}).content.decode()
    assert page.count('class="result"') == len(services.search_text("a photo", EVERYTHING)) > 2
    assert 'id="show-copies"' not in page
