"""Redetect with new weights: each photo's crops replaced in one transaction, resumable, files kept in step."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from indexing import served_models
from indexing.ann import builds
from indexing.catalog.consistency import check_consistency, index_ids
from indexing.model_changes import lifecycle as model_changes
from indexing.model_changes import redetect, runner
from indexing.models import Crop, ModelChange
from search.query import services


@pytest.fixture
def retrained_weights(tmp_path: Path, yolov5n_weights: Path) -> Path:
    """ "Retrained" weights: the same checkpoint under another name, so another detector version."""
    path = tmp_path / "yolov5n-retrained.pt"
    shutil.copy(yolov5n_weights, path)
    return path


def crops_by_photo() -> dict[int, set[str]]:
    """Each photo's set of detector versions among its crops."""
    found: dict[int, set[str]] = {}
    for image_id, version in Crop.objects.values_list("image_id", "detector_version"):
        found.setdefault(image_id, set()).add(version)
    return found


@pytest.mark.django_db(transaction=True)
def test_redetect_replaces_each_photos_crops_at_once_and_keeps_files_and_index_in_step(
    indexed_demo, retrained_weights, settings
):
    settings.REDETECT_BATCH_SIZE = 2
    old_version = served_models.detector().version
    old_files = set(Crop.objects.values_list("file", flat=True))
    photos_with_crops = set(crops_by_photo())
    change = redetect.start_redetect(weights=str(retrained_weights))
    assert change.version != old_version and change.total == indexed_demo.images.count()

    seen = []

    def mid_run(change: ModelChange) -> None:
        by_photo = crops_by_photo()
        seen.append(change.processed)
        # Every photo has its old crops or its new ones: never a mix, never none.
        assert set(by_photo) == photos_with_crops
        assert all(len(versions) == 1 for versions in by_photo.values())
        assert services.search_text("a photo of a person", k=3)

    change = redetect.run_redetect(change_id=change.pk, progress=mid_run)
    assert len(seen) >= 3 and change.status == ModelChange.Status.DONE
    assert set(Crop.objects.values_list("detector_version", flat=True)) == {change.version}
    assert served_models.detector().version == change.version  # new photos use it too
    new_files = set(Crop.objects.values_list("file", flat=True))
    assert not new_files & old_files
    assert all(default_storage.exists(name) for name in new_files)
    assert not any(default_storage.exists(name) for name in old_files)
    build = builds.latest_ready_build(version=served_models.served_embedder_version())
    assert set(index_ids(builds.load_build(build)).tolist()) >= set(Crop.objects.values_list("pk", flat=True))
    assert check_consistency().ok


@pytest.mark.django_db(transaction=True)
def test_a_redetect_that_stopped_resumes_where_it_stopped(indexed_demo, retrained_weights, settings, admin_user):
    settings.REDETECT_BATCH_SIZE = 2
    count_before = Crop.objects.count()
    change = redetect.start_redetect(weights=str(retrained_weights))

    def die(change: ModelChange) -> None:
        raise RuntimeError("the worker died")

    with pytest.raises(RuntimeError):
        redetect.run_redetect(change_id=change.pk, progress=die)
    change.refresh_from_db()
    assert change.status == ModelChange.Status.FAILED and change.processed == 2
    client = Client()
    client.force_login(admin_user)
    page = client.get("/datasets").content.decode()
    assert "Redetect" in page and "failed" in page and "2 of 6 photos" in page and "redetect --resume" in page
    listed = client.get("/api/model-changes").json()
    assert [(c["id"], c["kind"], c["status"], c["processed"], c["total"]) for c in listed] == [
        (change.pk, "detector", "failed", 2, 6)
    ]
    assert "the worker died" in listed[0]["error"]
    assert "worker died" not in Client().get("/api/model-changes").json()[0]["error"]  # staff only

    resumed = runner.run_change(change_id=model_changes.resume_open_change(kind=change.kind).pk)
    assert (resumed.status, resumed.processed) == (ModelChange.Status.DONE, 6)
    # The same weights find the same objects: each photo's crops were replaced once, not added twice.
    assert Crop.objects.count() == count_before
    assert set(Crop.objects.values_list("detector_version", flat=True)) == {change.version}
    assert check_consistency().ok
    with pytest.raises(model_changes.ChangeRefused, match="already detected"):
        redetect.start_redetect(weights=str(retrained_weights))


@pytest.mark.django_db(transaction=True)
def test_a_redetect_keeps_what_curators_and_duplicate_reviews_hid(indexed_demo, retrained_weights, settings):
    from indexing.catalog import curation
    from indexing.duplicates import groups as duplicate_groups
    from indexing.duplicates.matching import Match
    from indexing.models import DuplicateGroup, SourceImage, Tier

    settings.REDETECT_BATCH_SIZE = 2
    from django.db.models import Count

    photos = list(SourceImage.objects.annotate(n=Count("crops")).filter(n__gt=0).order_by("-n", "id"))
    curated, loser, winner = photos[0], photos[1], photos[2]
    DuplicateGroup.objects.all().delete()  # whatever indexing grouped among the demo photos: only ours below
    assert curated.n >= 2, "no demo photo has two crops to test with"
    # A curator hides one object of a photo; a reviewer keeps one of two photos grouped as duplicates.
    hidden = Crop.objects.filter(image=curated).order_by("-confidence").first()
    curation.set_crop_active(crop_id=hidden.pk, active=False)
    group = duplicate_groups.link_image(winner, [Match(loser.pk, Tier.PERCEPTUAL, 0.95)])
    duplicate_groups.keep_one(group_id=group.pk, image_id=winner.pk)
    # A crop of the winner a curator hid stays hidden too (keep one never showed it).
    winner_hidden = Crop.objects.filter(image=winner).order_by("-confidence").first()
    curation.set_crop_active(crop_id=winner_hidden.pk, active=False)
    visible_before = Crop.objects.filter(is_active=True).count()

    change = redetect.start_redetect(weights=str(retrained_weights))
    assert redetect.run_redetect(change_id=change.pk).status == ModelChange.Status.DONE
    assert not Crop.objects.filter(pk__in=[hidden.pk, winner_hidden.pk]).exists()  # every crop replaced

    # The same weights find the same objects: the box the curator hid is hidden again, by the curator.
    curated_now = Crop.objects.filter(image=curated)
    assert [(c.is_active, c.hidden_by) for c in curated_now if c.box == hidden.box] == [(False, "curator")]
    assert all(c.is_active for c in curated_now if curation.iou(c.box, hidden.box) < curation.CARRY_IOU)
    # The photo that lost the review: every new crop hidden as a duplicate, so "keep one" can show them.
    assert set(Crop.objects.filter(image=loser).values_list("is_active", "hidden_by")) == {(False, "duplicate")}
    assert Crop.objects.filter(image=winner, is_active=False).get().box == winner_hidden.box
    assert Crop.objects.filter(is_active=True).count() == visible_before
    duplicate_groups.keep_one(group_id=group.pk, image_id=loser.pk)
    assert Crop.objects.filter(image=loser, is_active=True).count() == Crop.objects.filter(image=loser).count()
    assert DuplicateGroup.objects.get(pk=group.pk).kept_id == loser.pk
    # Search agrees: a hidden crop is never returned.
    results = services.search_text("a photo of a person", k=50)
    assert results and all(Crop.objects.get(pk=r.crop_id).is_active for r in results)
