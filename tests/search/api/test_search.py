"""The DRF API against the real services: every endpoint, bad input, permissions, schema."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from indexing.models import Crop, IndexingJob, SourceImage


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def upload(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_text_search(api, indexed):
    response = api.post("/api/search/text", {"query": "a person", "k": 4}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 4 and len(body["results"]) == 4
    result = body["results"][0]
    assert set(result) >= {
        "crop_id",
        "label",
        "confidence",
        "score",
        "crop_url",
        "image_url",
        "box",
        "dataset",
        "split",
    }


def test_seed_search_text_endpoint_by_get_and_post(api, indexed):
    got = api.get("/api/search_text", {"query": "a car", "k": 3})
    assert got.status_code == 200 and got.json()["count"] == 3
    posted = api.post("/api/search_text", {"query": "a car", "k": 3}, format="json")
    assert posted.json()["results"] == got.json()["results"]


def test_image_search_groups_results_per_object(api, indexed):
    path = indexed[0]
    response = api.post("/api/search/image", {"image": upload(path.read_bytes()), "k": 2}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    source = SourceImage.objects.get(original_name=path.name)
    assert body["whole_image"] is False
    assert len(body["objects"]) == source.crops.count()
    for obj in body["objects"]:
        assert obj["label"] and len(obj["box"]) == 4
        assert obj["results"][0]["image_id"] == source.pk


def test_crop_similar_datasets_and_jobs(api, indexed):
    crop = Crop.objects.first()
    detail = api.get(f"/api/crops/{crop.pk}").json()
    assert detail["crop_id"] == crop.pk and detail["label"] == crop.label
    similar = api.get(f"/api/crops/{crop.pk}/similar", {"k": 3}).json()
    assert similar["count"] == 3 and crop.pk not in [r["crop_id"] for r in similar["results"]]
    datasets = api.get("/api/datasets").json()
    assert datasets[0]["images"] == datasets[0]["images_done"] == len(indexed)
    assert datasets[0]["crops"] == Crop.objects.count()
    job = IndexingJob.objects.first()
    body = api.get(f"/api/jobs/{job.pk}").json()
    assert body["status"] == "done" and body["processed_images"] == len(indexed)


def test_missing_things_are_json_404s(api, db):
    for url in ("/api/crops/999999", "/api/crops/999999/similar", "/api/jobs/999999"):
        response = api.get(url)
        assert response.status_code == 404
        assert "error" in response.json()


def big_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"query": ""}, "Type a few words"),
        ({"query": "   \n\t "}, "Type a few words"),
        ({"query": "word " * 200}, "limit"),
        ({"query": "car", "k": 0}, "k must be"),
        ({"query": "car", "k": 10_000}, "k must be"),
        ({"query": "car", "k": "many"}, "k:"),
        ({"query": "car", "labels": ["unicorn"]}, "Unknown label"),
        ({"query": ["not", "text"]}, "query:"),
        ({}, "query:"),
    ],
)
def test_bad_text_queries_get_400_with_a_reason(api, db, real_models, payload, message):
    response = api.post("/api/search/text", payload, format="json")
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_bad_uploads(api, db, real_models, settings):
    cases = [
        ({"image": upload(b"GIF89a but not really")}, 400, "not an image"),
        ({"image": upload(b"")}, 400, "empty"),
        ({"image": upload(big_png(64, 64)[:-40], "cut.png")}, 400, "is truncated or corrupt"),
        ({}, 400, "image"),
        ({"image": upload(big_png(64, 64)), "k": 0}, 400, "k must be"),
    ]
    for payload, status, message in cases:
        response = api.post("/api/search/image", payload, format="multipart")
        assert response.status_code == status, (payload, response.content)
        assert message.lower() in response.json()["error"].lower()

    settings.MAX_UPLOAD_BYTES = 1000
    response = api.post("/api/search/image", {"image": upload(b"x" * 5000)}, format="multipart")
    assert response.status_code == 413
    assert "limit" in response.json()["error"]

    settings.MAX_UPLOAD_BYTES = 10_000_000
    settings.MAX_IMAGE_PIXELS = 1_000_000
    response = api.post("/api/search/image", {"image": upload(big_png(2000, 2000), "bomb.png")}, format="multipart")
    assert response.status_code == 400
    assert "MAX_IMAGE_PIXELS" in response.json()["error"]


def test_writes_need_the_change_crop_permission(api, indexed):
    crop = Crop.objects.first()
    assert api.patch(f"/api/crops/{crop.pk}", {"is_active": False}, format="json").status_code in (401, 403)
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    api.force_authenticate(user)
    assert api.patch(f"/api/crops/{crop.pk}", {"is_active": False}, format="json").status_code == 403
    curator = User.objects.create_user("curator", password="pw")
    curator.user_permissions.add(Permission.objects.get(codename="change_crop"))
    token = Token.objects.create(user=curator)
    api.force_authenticate(None)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.patch(f"/api/crops/{crop.pk}", {"is_active": False}, format="json").status_code == 200
    assert Crop.objects.get(pk=crop.pk).is_active is False


def test_search_can_require_auth(api, db, real_models, settings):
    settings.SEARCH_REQUIRE_AUTH = True
    assert api.post("/api/search/text", {"query": "car"}, format="json").status_code in (401, 403)


def test_search_is_throttled_per_client(api, indexed, settings):
    from django.core.cache import cache

    cache.clear()
    settings.SEARCH_THROTTLE_RATE = "2/min"
    codes = [api.get("/api/search_text", {"query": "car"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    cache.clear()


def test_openapi_schema_is_valid_and_docs_load(api, db):
    from drf_spectacular.validation import validate_schema

    schema = api.get("/api/schema", {"format": "json"}).json()
    validate_schema(schema)
    for path in (
        "/api/search/text",
        "/api/search/image",
        "/api/crops/{crop_id}",
        "/api/crops/{crop_id}/similar",
        "/api/datasets",
        "/api/jobs/{job_id}",
        "/api/search_text",
    ):
        assert path in schema["paths"], path
    assert api.get("/api/docs").status_code == 200
