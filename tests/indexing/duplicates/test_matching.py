"""Matching in the real PostgreSQL: exact across datasets, perceptual by bit_count, semantic by pgvector."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.catalog import ingest
from indexing.catalog.stored_files import decode_stored_image
from indexing.duplicates import matching as duplicates
from indexing.duplicates.matching import find_matches
from indexing.models import NotDuplicatePair, SourceImage, Tier
from tests.duplicate_photos import altered
from tests.factories import make_crop, make_dataset, make_image, unit_vectors


def stored(dataset, name: str, data: bytes) -> SourceImage:
    image, _ = ingest.ingest_image(dataset, name, data)
    duplicates.store_fingerprint(image, decode_stored_image(image))
    return image


@pytest.fixture
def photos(db, coco_subset_files: list[Path]) -> list[Path]:
    return coco_subset_files[:4]


def test_re_encoded_and_halved_copies_match_perceptually_and_others_do_not(photos):
    dataset = make_dataset()
    originals = [stored(dataset, p.name, p.read_bytes()) for p in photos]
    q60 = stored(dataset, "q60.jpg", altered(photos[0], "jpeg60"))
    half = stored(dataset, "half.jpg", altered(photos[1], "half"))

    assert [(m.image_id, m.tier) for m in find_matches(q60)] == [(originals[0].pk, Tier.PERCEPTUAL)]
    assert [(m.image_id, m.tier) for m in find_matches(half)] == [(originals[1].pk, Tier.PERCEPTUAL)]
    assert find_matches(q60)[0].score >= 0.9  # a few bits at most
    assert find_matches(originals[2]) == []
    assert find_matches(originals[3]) == []


def test_the_same_bytes_in_two_datasets_are_an_exact_match(photos):
    first = stored(make_dataset("a"), photos[0].name, photos[0].read_bytes())
    second = stored(make_dataset("b"), "again.jpg", photos[0].read_bytes())

    matches = find_matches(second)
    # Also perceptually identical: reported once, under the stronger tier.
    assert [(m.image_id, m.tier, m.score) for m in matches] == [(first.pk, Tier.EXACT, 1.0)]


def test_a_pair_marked_not_duplicates_never_matches_again(photos):
    dataset = make_dataset()
    original = stored(dataset, photos[0].name, photos[0].read_bytes())
    copy = stored(dataset, "q60.jpg", altered(photos[0], "jpeg60"))
    assert find_matches(copy)
    NotDuplicatePair.objects.create(first=original, second=copy)
    assert find_matches(copy) == [] and find_matches(original) == []


def test_semantic_matches_compare_the_mean_of_each_photos_crops(db, settings):
    settings.DEDUP_SEMANTIC_MIN_SCORE = 0.95
    dataset = make_dataset()
    vectors = unit_vectors(3, seed=4)
    images = [make_image(dataset, seed) for seed in range(3)]
    for image in images:
        duplicates.PhotoFingerprint.objects.create(image=image, phash=image.pk * 0x0F0F0F0F0F0F)
    make_crop(images[0], vectors[0])
    make_crop(images[0], vectors[1])
    make_crop(images[1], vectors[1])  # same second object,
    make_crop(images[1], vectors[0] * 0.99 + vectors[2] * 0.01)  # nearly the same first one
    make_crop(images[2], vectors[2])
    for image in images:
        duplicates.store_photo_vector(image)

    matches = find_matches(images[0], [Tier.SEMANTIC])
    assert [(m.image_id, m.tier) for m in matches] == [(images[1].pk, Tier.SEMANTIC)]
    assert matches[0].score >= 0.95
    assert find_matches(images[2], [Tier.SEMANTIC]) == []
