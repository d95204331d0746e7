"""Duplicates as search sees them (real models, real PostgreSQL): keep one, collapse, the API's rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from indexing.ann import builds
from indexing.catalog import ingest
from indexing.models import DuplicateGroup, DuplicateMember, NotDuplicatePair, SourceImage
from indexing.pipeline import jobs
from search.query import services
from search.query.index_cache import index_holder
from tests.duplicate_photos import altered
from tests.factories import make_dataset

EVERYTHING = 100  # SEARCH_MAX_K: every crop of the few photos indexed here


@pytest.fixture
def grouped(db, real_models, settings, coco_subset_files: list[Path]) -> dict[str, SourceImage]:
    """Two photos and a re-encoded copy of each, indexed with DEDUP_ON_INGEST=link: two groups."""
    settings.DEDUP_ON_INGEST = "link"
    settings.DEDUP_SEMANTIC_MIN_SCORE = 1.01  # the test CLIP's vectors mean nothing
    dataset = make_dataset()
    a, b = coco_subset_files[:2]
    files = {"a": a.read_bytes(), "a-copy": altered(a, "jpeg60"), "b": b.read_bytes(), "b-copy": altered(b, "jpeg60")}
    for name, data in files.items():
        ingest.ingest_image(dataset, f"{name}.jpg", data)
    job, ids = jobs.create_job(dataset)
    jobs.run_job(job, ids)
    assert DuplicateGroup.objects.count() == 2
    return {name: SourceImage.objects.get(original_name=f"{name}.jpg") for name in files}


def image_ids(results) -> list[int]:
    return [r.image_id for r in results]


@pytest.mark.parametrize("with_faiss", [False, True])
def test_keeping_one_photo_stops_search_returning_the_others(grouped, with_faiss):
    if with_faiss:
        builds.publish_build()
        index_holder.reset()
    before = image_ids(services.search_text("a photo", EVERYTHING))
    assert grouped["a-copy"].pk in before and grouped["a"].pk in before

    client = staff_client(can_curate=True)
    group = DuplicateMember.objects.get(image=grouped["a"]).group_id
    response = client.post(f"/api/duplicates/groups/{group}/keep", {"image_id": grouped["a"].pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"

    after = image_ids(services.search_text("a photo", EVERYTHING))
    assert grouped["a-copy"].pk not in after
    assert grouped["a"].pk in after and grouped["b-copy"].pk in after


def test_collapse_returns_one_result_per_group(grouped):
    plain = services.search_text("a photo", EVERYTHING)
    collapsed = services.search_text("a photo", EVERYTHING, collapse_duplicates=True)

    groups = dict(DuplicateMember.objects.values_list("image_id", "group_id"))
    plain_groups = [groups[r.image_id] for r in plain]
    collapsed_groups = [groups[r.image_id] for r in collapsed]
    assert len(plain_groups) > len(set(plain_groups))  # several crops of each group without it
    assert sorted(collapsed_groups) == sorted(set(plain_groups))  # one per group with it
    assert collapsed[0] == plain[0]  # the best result leads either way


def test_collapse_in_the_api_and_the_page(grouped):
    client = APIClient()
    body = client.post(
        "/api/search/text", {"query": "a photo", "k": EVERYTHING, "collapse_duplicates": True}, format="json"
    ).json()
    assert body["count"] == 2
    page = client.get("/search", {"q": "a photo", "k": EVERYTHING})  # the page folds by default
    assert page.status_code == 200
    assert page.content.decode().count('class="result"') == 2


def staff_client(*, can_curate: bool, staff: bool = True) -> APIClient:
    user = User.objects.create_user(f"user{User.objects.count()}", password="pw", is_staff=staff)
    if can_curate:
        user.user_permissions.add(Permission.objects.get(codename="change_crop", content_type__app_label="indexing"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def write_requests(group_id: int, image_id: int, dataset_id: int) -> list[tuple[str, dict]]:
    return [
        (f"/api/duplicates/groups/{group_id}/keep", {"image_id": image_id}),
        (f"/api/duplicates/groups/{group_id}/not-duplicates", {}),
        ("/api/duplicates/resolve", {"group_ids": [group_id]}),
        (f"/api/datasets/{dataset_id}/duplicates/recompute", {}),
    ]


@pytest.mark.parametrize("who", ["anonymous", "staff without change_crop", "curator who is not staff"])
def test_the_api_refuses_writes_from_anyone_but_staff_curators(grouped, who):
    client = {
        "anonymous": APIClient(),
        "staff without change_crop": staff_client(can_curate=False),
        "curator who is not staff": staff_client(can_curate=True, staff=False),
    }[who]
    group = DuplicateMember.objects.get(image=grouped["a"]).group_id
    for url, data in write_requests(group, grouped["a"].pk, grouped["a"].dataset_id):
        response = client.post(url, data, format="json")
        assert response.status_code in (401, 403), (url, response.status_code)
    assert DuplicateGroup.objects.filter(status="open").count() == 2
    assert not NotDuplicatePair.objects.exists()
    if who == "anonymous":
        assert client.get("/api/duplicates/groups").status_code in (401, 403)


def test_staff_list_groups_and_mark_not_duplicates(grouped):
    client = staff_client(can_curate=True)
    listed = client.get("/api/duplicates/groups").json()
    assert len(listed) == 2
    member = listed[0]["members"][0]
    assert member["tier"] == "perceptual" and 0.9 <= member["score"] <= 1.0 and member["width"] > 0

    response = client.post(f"/api/duplicates/groups/{listed[0]['id']}/not-duplicates", format="json")
    assert response.json() == {"count": 1}
    assert len(client.get("/api/duplicates/groups").json()) == 1
    assert client.post("/api/duplicates/groups/999999/not-duplicates").status_code == 404


def test_resolve_many_through_the_api(grouped):
    client = staff_client(can_curate=True)
    ids = list(DuplicateGroup.objects.values_list("pk", flat=True))
    assert client.post("/api/duplicates/resolve", {"group_ids": ids}, format="json").json() == {"count": 2}
    assert client.get("/api/duplicates/groups").json() == []
    assert len(client.get("/api/duplicates/groups", {"status": "resolved"}).json()) == 2


def test_the_same_object_elsewhere_is_found_in_the_copy(grouped, settings):
    crop = grouped["a"].crops.order_by("-confidence").first()
    body = APIClient().get(f"/api/crops/{crop.pk}/same-object").json()
    found = [row for group in body["groups"] for row in group]
    assert found, body
    assert grouped["a-copy"].pk in {row["image_id"] for row in found}
    assert grouped["a"].pk not in {row["image_id"] for row in found}  # other photos only
    assert all(row["score"] >= settings.DEDUP_OBJECT_MIN_SCORE for row in found)


def test_the_crop_page_shows_the_same_object_elsewhere(grouped):
    crop = grouped["a"].crops.order_by("-confidence").first()
    copy_crops = set(grouped["a-copy"].crops.values_list("pk", flat=True))
    html = APIClient().get(f"/crops/{crop.pk}").content.decode()
    section = html.split('id="same-object"')[1].split("</section>")[0]
    assert any(f"/crops/{pk}" in section for pk in copy_crops), section


def test_the_review_page_is_for_staff_only(grouped):
    client = APIClient()
    assert client.get("/duplicates").status_code == 302  # to the admin's login
    user = User.objects.create_user("reader", password="pw")
    client.force_login(user)
    assert client.get("/duplicates").status_code == 302
    assert client.post(f"/duplicates/{DuplicateGroup.objects.first().pk}/not-duplicates").status_code == 302
    assert DuplicateGroup.objects.count() == 2
