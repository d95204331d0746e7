"""Curation and duplicate reviews never undo each other: only the path that hid a crop shows it again."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from indexing.ann import builds
from indexing.catalog import curation, deletion
from indexing.duplicates import groups as duplicate_groups
from indexing.duplicates.matching import Match
from indexing.models import Crop, Dataset, DuplicateGroup, SourceImage, Tier
from tests.factories import configured_embedder_version, make_crop, make_dataset, make_image, unit_vectors

pytestmark = pytest.mark.django_db

CURATOR, DUPLICATE = Crop.HiddenBy.CURATOR, Crop.HiddenBy.DUPLICATE


def photo_with_crops(dataset: Dataset, seed: int, crops: int = 2) -> SourceImage:
    image = make_image(dataset, seed=seed)
    SourceImage.objects.filter(pk=image.pk).update(status=SourceImage.Status.DONE)
    for vector in unit_vectors(crops, seed=seed):
        make_crop(image, vector)
    return image


def grouped(*images: SourceImage) -> DuplicateGroup:
    first, *others = images
    return duplicate_groups.link_image(first, [Match(o.pk, Tier.EXACT, 1.0) for o in others])


def visibility(image: SourceImage) -> list[tuple[bool, str]]:
    return list(Crop.objects.filter(image=image).order_by("id").values_list("is_active", "hidden_by"))


def searched(crop: Crop) -> set[int]:
    """Crop ids search returns for the crop's own vector: the served build and its tail, checked rows."""
    from search.query.candidates import search_vectors
    from search.query.index_cache import index_holder

    index_holder.reset()
    vector = np.asarray(crop.embedding, dtype=np.float32)[None, :]
    return {r.crop_id for r in search_vectors(vector, 50, None, None, version=configured_embedder_version())[0]}


def test_keep_one_never_shows_a_crop_a_curator_hid(db):
    dataset = make_dataset()
    kept, other = photo_with_crops(dataset, 1), photo_with_crops(dataset, 2)
    hidden_by_person = Crop.objects.filter(image=kept).order_by("id").first()
    curation.set_crop_active(crop_id=hidden_by_person.pk, active=False)
    group = grouped(kept, other)

    duplicate_groups.keep_one(group_id=group.pk, image_id=other.pk)  # the reviewer keeps the other first
    assert visibility(kept) == [(False, CURATOR), (False, DUPLICATE)]
    assert visibility(other) == [(True, ""), (True, "")]

    duplicate_groups.keep_one(group_id=group.pk, image_id=kept.pk)  # then changes their mind
    assert visibility(kept) == [(False, CURATOR), (True, "")]  # the curator's hide stays
    assert visibility(other) == [(False, DUPLICATE), (False, DUPLICATE)]

    duplicate_groups.not_duplicates(group_id=group.pk)  # the review undone: what it hid comes back
    assert visibility(kept) == [(False, CURATOR), (True, "")]
    assert visibility(other) == [(True, ""), (True, "")]


def test_a_curator_hiding_a_duplicate_hidden_crop_makes_it_theirs(db):
    dataset = make_dataset()
    kept, other = photo_with_crops(dataset, 1), photo_with_crops(dataset, 2)
    group = grouped(kept, other)
    duplicate_groups.keep_one(group_id=group.pk, image_id=kept.pk)
    first = Crop.objects.filter(image=other).order_by("id").first()
    curation.set_crop_active(crop_id=first.pk, active=False)
    duplicate_groups.keep_one(group_id=group.pk, image_id=other.pk)
    assert visibility(other) == [(False, CURATOR), (True, "")]


def test_a_hide_that_names_no_reason_counts_as_a_curators_and_a_show_clears_it(db):
    """The trigger (migration 0007) keeps is_active and hidden_by in step for every writer, SQL included."""
    image = photo_with_crops(make_dataset(), 1, crops=1)
    crop = Crop.objects.get(image=image)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Crop._meta.db_table} SET is_active = false WHERE id = %s", [crop.pk])
    assert visibility(image) == [(False, CURATOR)]
    assert curation.show_duplicates(image_ids=[image.pk]) == 0  # not the review's to show
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Crop._meta.db_table} SET is_active = true WHERE id = %s", [crop.pk])
    crop.refresh_from_db()
    assert (crop.is_active, crop.hidden_by) == (True, "") and crop.reactivated is not None


def test_deleting_the_kept_photos_dataset_shows_its_copies_elsewhere_again_and_reopens_the_group(
    db, django_capture_on_commit_callbacks, settings
):
    settings.SEARCH_INDEX_CHECK_SECONDS = 0
    kept_in, elsewhere = make_dataset("kept-here"), make_dataset("copies")
    kept = photo_with_crops(kept_in, 1)
    copy_a, copy_b = photo_with_crops(elsewhere, 2), photo_with_crops(elsewhere, 3)
    pair_kept, pair_copy = photo_with_crops(kept_in, 4), photo_with_crops(elsewhere, 5)
    group, pair = grouped(kept, copy_a, copy_b), grouped(pair_kept, pair_copy)
    duplicate_groups.keep_one(group_id=group.pk, image_id=kept.pk)
    duplicate_groups.keep_one(group_id=pair.pk, image_id=pair_kept.pk)
    curator_hidden = Crop.objects.filter(image=copy_a).order_by("id").last()
    curation.set_crop_active(crop_id=curator_hidden.pk, active=False)
    builds.publish_build()  # the served build holds the visible crops only
    copy_crop = Crop.objects.filter(image=copy_b).first()
    assert copy_crop.pk not in searched(Crop.objects.filter(image=kept).first())

    with django_capture_on_commit_callbacks(execute=True):
        deletion.run_deletion(dataset_id=kept_in.pk)

    assert visibility(copy_a) == [(True, ""), (False, CURATOR)]
    assert visibility(copy_b) == [(True, ""), (True, "")]
    assert visibility(pair_copy) == [(True, ""), (True, "")]
    group.refresh_from_db()
    assert (group.status, group.kept_id) == (DuplicateGroup.Status.OPEN, None)  # two copies left: to review
    assert set(group.members.values_list("image_id", flat=True)) == {copy_a.pk, copy_b.pk}
    assert not DuplicateGroup.objects.filter(pk=pair.pk).exists()  # one photo left: nothing to review
    # Search finds the copies again (the served build did not hold them: its tail does), not the curator's.
    found = searched(copy_crop)
    assert copy_crop.pk in found and Crop.objects.filter(image=copy_a, is_active=True).get().pk in found
    assert curator_hidden.pk not in found


def test_the_overlap_of_two_boxes(db):
    assert curation.iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert curation.iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert curation.iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
