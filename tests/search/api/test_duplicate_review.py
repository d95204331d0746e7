"""Reviewing many groups: every group reachable page by page, most confident first, by tier and dataset,
each member saying why it matched (the verified region drawn on the page)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from indexing.duplicates import selectors
from indexing.models import DuplicateGroup, DuplicateMember, Tier
from tests.factories import make_dataset, make_image

BOX, MATCHED_BOX = [0.1, 0.2, 0.9, 0.8], [0.0, 0.0, 0.5, 0.5]


@pytest.fixture
def many_groups(db, monkeypatch) -> dict:
    """Five groups of two photos: scores 0.95 down to 0.55, the weakest one verified, the last in dataset b."""
    monkeypatch.setattr(selectors, "REVIEW_PAGE_SIZE", 2)
    a, b = make_dataset("a"), make_dataset("b")
    groups = []
    for n, score in enumerate((0.75, 0.95, 0.55, 0.85, 0.65)):
        dataset = b if n == 4 else a
        first, second = make_image(dataset, 2 * n), make_image(dataset, 2 * n + 1)
        group = DuplicateGroup.objects.create()
        verified = score == 0.55
        tier = Tier.VERIFIED if verified else Tier.PERCEPTUAL
        evidence = {"inliers": 55, "box": BOX, "matched_box": MATCHED_BOX} if verified else {"distance": 3}
        DuplicateMember.objects.create(
            group=group, image=first, matched=second, tier=tier, score=score, evidence=evidence
        )
        flipped = {**evidence, "box": MATCHED_BOX, "matched_box": BOX} if verified else evidence
        DuplicateMember.objects.create(
            group=group, image=second, matched=first, tier=tier, score=score, evidence=flipped
        )
        groups.append(group)
    return {"groups": groups, "a": a, "b": b}


def staff() -> APIClient:
    client = APIClient()
    client.force_login(User.objects.create_user("staff", password="pw", is_staff=True))
    return client


def test_the_api_pages_through_every_group_most_confident_first(many_groups):
    client, seen, url = staff(), [], "/api/duplicates/groups"
    params = {}
    while url:
        response = client.get(url, params)
        assert response["X-Total-Count"] == "5"
        seen += [(g["id"], g["members"][0]["score"]) for g in response.json()]
        link = re.search(r'<([^>]+)>; rel="next"', response.get("Link", ""))
        url, params = (link.group(1), {}) if link else (None, {})
    assert [score for _, score in seen] == [0.95, 0.85, 0.75, 0.65, 0.55]
    assert len({pk for pk, _ in seen}) == 5


def test_the_api_filters_by_tier_and_dataset_and_says_why(many_groups):
    client = staff()
    verified = client.get("/api/duplicates/groups", {"tier": "verified"}).json()
    assert len(verified) == 1
    member = verified[0]["members"][0]
    assert member["tier"] == "verified" and member["evidence"] == {
        "inliers": 55,
        "box": BOX,
        "matched_box": MATCHED_BOX,
    }
    in_b = client.get("/api/duplicates/groups", {"dataset": many_groups["b"].pk}).json()
    assert [g["id"] for g in in_b] == [many_groups["groups"][4].pk]
    assert client.get("/api/duplicates/groups", {"tier": "nonsense"}).status_code == 400


def test_the_page_has_next_links_filters_and_the_matched_region(many_groups):
    client = staff()
    first = client.get("/duplicates").content.decode()
    assert first.count('class="duplicate-group"') == 2 and 'id="next-page"' in first
    last = client.get("/duplicates", {"page": 3}).content.decode()
    assert last.count('class="duplicate-group"') == 1 and 'id="next-page"' not in last
    # The verified group (the least confident) draws each photo's matched region, in percent of the photo.
    assert 'class="match-box" style="left:10.0%;top:20.0%;width:80.0%;height:60.0%"' in last
    assert 'class="match-box" style="left:0.0%;top:0.0%;width:50.0%;height:50.0%"' in last
    assert "55 inliers" in last
    filtered = client.get("/duplicates", {"dataset": many_groups["b"].pk}).content.decode()
    assert filtered.count('class="duplicate-group"') == 1 and f'id="group-{many_groups["groups"][4].pk}"' in filtered
