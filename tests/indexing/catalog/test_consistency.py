"""check_consistency: exit 0 on a consistent collection, 1 when a file, row or index id was removed behind its back."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from indexing.ann import builds
from indexing.ann import faiss_index as ann
from indexing.catalog.consistency import check_consistency, index_ids
from indexing.models import Crop, IndexBuild, SourceImage
from tests.factories import make_crop, make_dataset, make_image, unit_vectors

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_storage")]


@pytest.fixture
def collection() -> list[Crop]:
    dataset = make_dataset()
    crops = []
    for seed in range(3):
        image = make_image(dataset, seed=seed)
        crops += [make_crop(image, vector) for vector in unit_vectors(4, seed=seed)]
    builds.publish_build()
    return crops


def run_check() -> tuple[int, str]:
    """The command's exit status and what it wrote to stderr."""
    import io

    err = io.StringIO()
    try:
        call_command("check_consistency", stdout=io.StringIO(), stderr=err)
    except SystemExit as exc:
        return int(exc.code), err.getvalue()
    return 0, err.getvalue()


def test_a_consistent_collection_exits_0(collection):
    assert run_check() == (0, "")


def test_a_photo_file_removed_behind_its_back_exits_1_and_names_it(collection):
    image = SourceImage.objects.first()
    default_storage.delete(image.file.name)
    status, err = run_check()
    assert status == 1
    assert f"1 rows whose file is missing: {image.file.name}" in err


def test_a_row_removed_behind_its_back_exits_1_naming_its_files(collection):
    image = SourceImage.objects.first()
    name = image.file.name
    SourceImage.objects.filter(pk=image.pk).delete()  # a queryset delete: the file stays
    status, err = run_check()
    assert status == 1
    assert f"storage files without a row: {name}" in err
    # Its crops went with it (cascade), but their ids are still in the served build.
    report = check_consistency()
    assert report.index_ids_without_crop == sorted(c.pk for c in collection[:4])


def test_an_inactive_crop_in_the_index_awaits_compaction_and_is_no_error(collection):
    Crop.objects.filter(pk=collection[0].pk).update(is_active=False)
    report = check_consistency()
    assert report.ok and report.awaiting_compaction == 1


def test_an_active_crop_missing_from_the_index_and_its_tail_is_an_error(collection):
    newer = make_crop(SourceImage.objects.first(), unit_vectors(1, seed=9)[0])
    assert check_consistency().ok  # newer than the build: served by the exact tail search
    IndexBuild.objects.update(max_crop_id=newer.pk)  # now the build claims to cover it
    assert check_consistency().active_crops_missing_from_index == [newer.pk]


def test_crops_of_another_clip_than_the_served_one_are_an_error(collection):
    collection[0].embedder_version = "another-clip@0"
    collection[0].save()
    status, errors = run_check()
    assert status == 1 and "1 crops made by another CLIP than the served one" in errors


def test_a_deleted_index_file_is_a_row_without_file(collection):
    build = builds.latest_ready_build()
    build.file.storage.delete(build.file.name)
    report = check_consistency()
    assert report.rows_without_files == [build.file.name]


def test_index_ids_reads_id_maps_and_ivf_lists():
    vectors = unit_vectors(2000, dim=32, seed=3)
    ids = np.arange(10, 2010, dtype=np.int64)
    for kind in ("Flat", "HNSW32", "IVF16,SQ8", "IVF16,Flat"):
        index = ann.make_index(vectors, ids, kind)
        found = index_ids(ann.deserialize(ann.serialize(index)))
        assert sorted(found.tolist()) == ids.tolist(), kind
