"""Photo queries: photos holding objects like each query object, best first."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from indexing.ann import builds
from indexing.models import SourceImage
from indexing.served_models import served_embedder_version
from search.query.image.photo_queries import rank_photos
from tests.factories import make_crop, make_dataset, make_image, unit_vectors


def near(vector: np.ndarray, noise: np.ndarray, similarity: float) -> np.ndarray:
    """A unit vector with cosine ``similarity`` to ``vector`` (noise made orthogonal first)."""
    noise = noise - np.dot(noise, vector) * vector
    noise /= np.linalg.norm(noise)
    return (similarity * vector + np.sqrt(1 - similarity**2) * noise).astype(np.float32)


@pytest.fixture
def photos_of_two_kinds(db, real_models):
    """``both`` holds objects close to q1 and q2; ``only1``/``only2`` hold an exact q1 / q2; others noise."""
    q1, q2, *noise = unit_vectors(12, seed=11)
    dataset = make_dataset()
    made = {}
    for seed, name in enumerate(["both", "only1", "only2", "other1", "other2"]):
        made[name] = make_image(dataset, seed=seed)
    make_crop(made["both"], near(q1, noise[0], 0.9), x1=10, y1=12, x2=40, y2=44)
    make_crop(made["both"], near(q2, noise[1], 0.9), label="car", x1=50, y1=5, x2=60, y2=30)
    make_crop(made["only1"], q1)
    make_crop(made["only2"], q2, label="car")
    make_crop(made["other1"], noise[2])
    make_crop(made["other2"], noise[3], label="car")
    return np.stack([q1, q2]), made


@pytest.mark.parametrize("use_build", [False, True])
def test_a_photo_holding_both_objects_ranks_above_photos_holding_one(photos_of_two_kinds, settings, use_build):
    queries, made = photos_of_two_kinds
    if use_build:
        builds.publish_build()
    settings.SEARCH_PHOTO_CANDIDATES = 2  # "like" = among each object's 2 best crops
    ranked = rank_photos(
        queries, version=served_embedder_version(), k=10, match="any", crop_filter=None, min_score=None
    )
    assert [p.image_id for p in ranked] == [made["both"].pk, made["only1"].pk, made["only2"].pk]
    both = ranked[0]
    assert both.score == pytest.approx(0.9, abs=1e-4)
    assert [m.query_index for m in both.matches] == [0, 1]
    assert [m.result.box for m in both.matches] == [(10, 12, 40, 44), (50, 5, 60, 30)]
    assert ranked[1].score == pytest.approx(0.5, abs=1e-4)  # one exact match of two objects

    only_all = rank_photos(
        queries, version=served_embedder_version(), k=10, match="all", crop_filter=None, min_score=None
    )
    assert [p.image_id for p in only_all] == [made["both"].pk]


def test_min_score_decides_what_counts_as_alike(photos_of_two_kinds, settings):
    queries, made = photos_of_two_kinds
    settings.SEARCH_PHOTO_CANDIDATES = 100  # every crop is a candidate: the floor decides
    ranked = rank_photos(queries, version=served_embedder_version(), k=10, match="all", crop_filter=None, min_score=0.8)
    assert [p.image_id for p in ranked] == [made["both"].pk]
    loose = rank_photos(queries, version=served_embedder_version(), k=10, match="any", crop_filter=None, min_score=0.95)
    assert {p.image_id for p in loose} == {made["only1"].pk, made["only2"].pk}


def test_photo_api_finds_the_query_photo_with_a_box_per_object(indexed):
    path = next(p for p in indexed if SourceImage.objects.get(original_name=p.name).crops.count() >= 2)
    source = SourceImage.objects.get(original_name=path.name)
    image = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
    response = APIClient().post("/api/search/photos", {"image": image, "k": 3, "match": "all"}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["objects"]) == source.crops.count() and body["match"] == "all"
    first = body["photos"][0]
    assert first["image_id"] == source.pk and first["score"] == pytest.approx(1.0, abs=1e-4)
    assert len(first["matches"]) == len(body["objects"])
    boxes = {tuple(c) for c in source.crops.values_list("x1", "y1", "x2", "y2")}
    assert {tuple(m["crop"]["box"]) for m in first["matches"]} == boxes
    # Every other photo has a match for each query object too ("all"), scored lower.
    for photo in body["photos"][1:]:
        assert len(photo["matches"]) == len(body["objects"]) and photo["score"] <= first["score"]


def test_photo_api_refuses_an_unknown_match_mode(indexed):
    image = SimpleUploadedFile("a.jpg", indexed[0].read_bytes(), content_type="image/jpeg")
    response = APIClient().post("/api/search/photos", {"image": image, "match": "most"}, format="multipart")
    assert response.status_code == 400 and "match" in response.json()["error"]
