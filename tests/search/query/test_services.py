"""Search through the service layer: duplicates, fresh crops, deactivated crops."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.ann import builds
from indexing.models import Crop, SourceImage
from indexing.served_models import served_embedder_version
from search.query import services
from search.query.errors import CropNotFound, SearchInputError
from tests.search.conftest import index_files


def test_exact_duplicate_photo_finds_its_own_crops_first(indexed):
    builds.publish_build()
    for path in indexed[:3]:
        source = SourceImage.objects.get(original_name=path.name)
        found = services.search_image(path.read_bytes(), k=5)
        assert not found.whole_image
        assert len(found.objects) == source.crops.count()
        for obj in found.objects:
            top = obj.results[0]
            assert top.image_id == source.pk, f"{path.name}: rank 1 came from another photo"
            assert top.score == pytest.approx(1.0, abs=1e-4)


def test_text_search_returns_k_results_best_first(indexed):
    results = services.search_text("a person walking", k=5)
    assert len(results) == 5
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    first = results[0]
    assert first.crop_url and first.image_url and first.dataset and first.split == "train"
    assert len(first.box) == 4


def test_label_filter_and_min_score(indexed):
    labels = set(Crop.objects.values_list("label", flat=True))
    label = sorted(labels)[0]
    results = services.search_text("something", k=50, labels=[label])
    assert results and {r.label for r in results} == {label}
    everything = services.search_text("something", k=50)
    threshold = everything[2].score
    above = services.search_text("something", k=50, min_score=threshold)
    # Exactly the results scoring at least the threshold (the top three, at least), none below.
    assert len(above) >= 3
    assert all(r.score >= threshold for r in above)
    assert {r.crop_id for r in above} == {r.crop_id for r in everything if r.score >= threshold}


@pytest.mark.parametrize("use_build", [False, True])
def test_deactivated_crops_are_never_returned(indexed, use_build):
    if use_build:
        builds.publish_build()
    crop = Crop.objects.order_by("id").first()
    assert services.similar_to_crop(Crop.objects.exclude(pk=crop.pk).first().pk, k=50)
    Crop.objects.filter(pk=crop.pk).update(is_active=False)
    vector = np.asarray(crop.embedding, dtype=np.float32)
    results = services.search_vectors(vector[None, :], 50, None, None, version=served_embedder_version())[0]
    assert crop.pk not in {r.crop_id for r in results}
    with pytest.raises(CropNotFound):
        services.get_crop(crop.pk)


def test_crop_indexed_after_the_build_is_found_before_any_rebuild(indexed, coco_subset_files):
    build = builds.publish_build()
    index_files(coco_subset_files[len(indexed) : len(indexed) + 1], name="later")
    new_crop = Crop.objects.filter(image__dataset__name="later").first()
    assert new_crop is not None and new_crop.pk > build.max_crop_id
    vector = np.asarray(new_crop.embedding, dtype=np.float32)
    results = services.search_vectors(vector[None, :], 3, None, None, version=served_embedder_version())[0]
    assert results[0].crop_id == new_crop.pk


def test_a_newer_build_is_swapped_in(indexed):
    from search.query.index_cache import index_holder

    first = builds.publish_build()
    assert index_holder.current(version=served_embedder_version()).build_id == first.pk
    second = builds.publish_build()
    assert index_holder.current(version=served_embedder_version()).build_id == second.pk


def test_more_like_this_excludes_the_crop_itself(indexed):
    crop = Crop.objects.first()
    results = services.similar_to_crop(crop.pk, k=4)
    assert len(results) == 4 and crop.pk not in {r.crop_id for r in results}


def test_photo_without_product_objects_searches_the_whole_image(indexed):
    from tests.factories import png_bytes

    found = services.search_image(png_bytes((320, 240), (10, 120, 200)), k=3)
    assert found.whole_image
    assert "whole photo" in found.message
    assert len(found.objects) == 1 and len(found.objects[0].results) == 3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: services.search_text("   "), "Type a few words"),
        (lambda: services.search_text("x" * 1000), "limit"),
        (lambda: services.search_text("car", k=0), "k must be"),
        (lambda: services.search_text("car", labels=["giraffe"]), "Unknown label"),
        (lambda: services.search_image(b"not an image"), "not an image"),
    ],
)
def test_bad_queries_raise_a_clear_input_error(db, real_models, call, message):
    with pytest.raises(SearchInputError, match=message):
        call()


@pytest.mark.django_db
def test_without_a_build_search_returns_k_results_when_most_near_crops_are_inactive():
    """An approximate scan that filters after it (pgvector's HNSW hands back ef_search rows) would find none here."""
    from tests.factories import make_crop, make_dataset, make_image, unit_vectors

    image = make_image(make_dataset())
    vectors = unit_vectors(400, seed=11)
    query = vectors[0]
    crops = [make_crop(image, vector) for vector in vectors]
    nearest_first = np.argsort(-(vectors @ query))
    hidden = [crops[i].pk for i in nearest_first[:150]]
    Crop.objects.filter(pk__in=hidden).update(is_active=False)
    expected = [crops[i].pk for i in nearest_first[150:160]]

    results = services.search_vectors(query[None, :], 10, None, None, version=served_embedder_version())[0]
    assert [r.crop_id for r in results] == expected
