"""Review decisions on real rows: keep one, not duplicates (remembered through a recompute), resolve many."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.catalog import ingest
from indexing.catalog.stored_files import decode_stored_image
from indexing.duplicates import groups as duplicate_groups
from indexing.duplicates import matching as duplicates
from indexing.duplicates.groups import DuplicateReviewError
from indexing.models import (
    Crop,
    DuplicateGroup,
    DuplicateMember,
    NotDuplicatePair,
    PhotoFingerprint,
    SourceImage,
    Tier,
)
from tests.duplicate_photos import altered
from tests.factories import make_crop, make_dataset, unit_vectors


def stored(dataset, name: str, data: bytes, crops: int = 2) -> SourceImage:
    image, _ = ingest.ingest_image(dataset, name, data)
    pixels = decode_stored_image(image)
    SourceImage.objects.filter(pk=image.pk).update(width=pixels.width, height=pixels.height)
    image.refresh_from_db()
    duplicates.store_fingerprint(image, pixels)
    for vector in unit_vectors(crops, seed=image.pk):
        make_crop(image, vector)
    return image


def link(image: SourceImage) -> DuplicateGroup | None:
    return duplicate_groups.link_image(image, duplicates.find_matches(image))


@pytest.fixture
def two_pairs(db, settings, coco_subset_files: list[Path]) -> dict[str, SourceImage]:
    settings.DEDUP_SEMANTIC_MIN_SCORE = 1.01  # random crop vectors: perceptual and exact tiers only
    dataset = make_dataset()
    a, b = coco_subset_files[:2]
    photos = {
        "a": stored(dataset, a.name, a.read_bytes()),
        "a-q60": stored(dataset, "a-q60.jpg", altered(a, "jpeg60")),
        "b": stored(dataset, b.name, b.read_bytes()),
        "b-half": stored(dataset, "b-half.jpg", altered(b, "half")),
    }
    for image in photos.values():
        link(image)
    return photos


def members(group: DuplicateGroup) -> set[int]:
    return set(group.members.values_list("image_id", flat=True))


def group_of(image: SourceImage) -> DuplicateGroup:
    return DuplicateMember.objects.get(image=image).group


def test_groups_hold_each_photo_once_with_its_tier(two_pairs):
    assert DuplicateGroup.objects.count() == 2
    assert members(group_of(two_pairs["a"])) == {two_pairs["a"].pk, two_pairs["a-q60"].pk}
    assert members(group_of(two_pairs["b"])) == {two_pairs["b"].pk, two_pairs["b-half"].pk}
    assert set(DuplicateMember.objects.values_list("tier", flat=True)) == {Tier.PERCEPTUAL}


def test_a_third_copy_joins_the_group_and_an_exact_copy_elsewhere_too(two_pairs, coco_subset_files):
    group = group_of(two_pairs["a"])
    elsewhere = stored(make_dataset("other"), "same-bytes.jpg", coco_subset_files[0].read_bytes())
    assert link(elsewhere) == group
    assert members(group) == {two_pairs["a"].pk, two_pairs["a-q60"].pk, elsewhere.pk}
    assert DuplicateMember.objects.get(image=elsewhere).tier == Tier.EXACT


def test_keep_one_deactivates_the_others_crops_and_resolves_the_group(two_pairs):
    group = group_of(two_pairs["a"])
    duplicate_groups.keep_one(group_id=group.pk, image_id=two_pairs["a"].pk)

    group.refresh_from_db()
    assert (group.status, group.kept_id) == (DuplicateGroup.Status.RESOLVED, two_pairs["a"].pk)
    assert not Crop.objects.filter(image=two_pairs["a-q60"], is_active=True).exists()
    assert Crop.objects.filter(image=two_pairs["a"], is_active=True).count() == 2
    assert Crop.objects.filter(image=two_pairs["b-half"], is_active=True).count() == 2  # other groups untouched


def test_keep_refuses_a_photo_of_another_group(two_pairs):
    group = group_of(two_pairs["a"])
    with pytest.raises(DuplicateReviewError, match="not in duplicate group"):
        duplicate_groups.keep_one(group_id=group.pk, image_id=two_pairs["b"].pk)
    assert Crop.objects.filter(is_active=False).count() == 0


def test_not_duplicates_survives_a_recompute(two_pairs):
    dataset = two_pairs["a"].dataset
    duplicate_groups.not_duplicates(group_id=group_of(two_pairs["a"]).pk)
    assert NotDuplicatePair.objects.count() == 1

    linked = duplicate_groups.recompute_dataset(dataset_id=dataset.pk)

    assert linked == 2  # b and b-half, again
    assert not DuplicateMember.objects.filter(image__in=[two_pairs["a"], two_pairs["a-q60"]]).exists()
    assert members(group_of(two_pairs["b"])) == {two_pairs["b"].pk, two_pairs["b-half"].pk}


def test_recompute_fingerprints_photos_indexed_before_duplicates_were_tracked(two_pairs):
    PhotoFingerprint.objects.all().delete()
    DuplicateGroup.objects.all().delete()
    duplicate_groups.recompute_dataset(dataset_id=two_pairs["a"].dataset_id)
    assert PhotoFingerprint.objects.count() == 4
    assert DuplicateGroup.objects.count() == 2


def test_a_resolved_group_keeps_its_decision_through_a_recompute(two_pairs):
    group = group_of(two_pairs["a"])
    duplicate_groups.keep_one(group_id=group.pk, image_id=two_pairs["a-q60"].pk)
    duplicate_groups.recompute_dataset(dataset_id=two_pairs["a"].dataset_id)
    group.refresh_from_db()
    assert (group.status, group.kept_id) == (DuplicateGroup.Status.RESOLVED, two_pairs["a-q60"].pk)


def test_resolve_many_keeps_each_groups_largest_photo(two_pairs):
    ids = list(DuplicateGroup.objects.values_list("pk", flat=True))
    assert duplicate_groups.resolve_groups(group_ids=ids) == 2
    assert set(DuplicateGroup.objects.values_list("kept_id", flat=True)) == {
        two_pairs["a"].pk,  # the same size as its copy: the older one
        two_pairs["b"].pk,  # twice the size of its half copy
    }
    assert set(Crop.objects.filter(is_active=False).values_list("image_id", flat=True)) == {
        two_pairs["a-q60"].pk,
        two_pairs["b-half"].pk,
    }


def test_the_command_recomputes_a_dataset_by_name(two_pairs, capsys):
    from django.core.management import CommandError, call_command

    DuplicateGroup.objects.all().delete()
    dataset = two_pairs["a"].dataset
    call_command("recompute_duplicates", f"{dataset.name}:{dataset.version}")
    assert "4 photo(s) are in a duplicate group" in capsys.readouterr().out
    assert DuplicateGroup.objects.count() == 2
    with pytest.raises(CommandError, match="No single dataset"):
        call_command("recompute_duplicates", "nope:version_9")
