"""Duplicates while indexing (real detector, test CLIP, real PostgreSQL): keep, link or skip."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from indexing.catalog import ingest
from indexing.duplicates import hooks as duplicate_ingest
from indexing.models import DuplicateGroup, DuplicateMember, IndexingJob, PhotoFingerprint, SourceImage, Tier
from indexing.pipeline import jobs
from tests.bad_files import refused_uploads
from tests.duplicate_photos import altered
from tests.factories import make_dataset


@pytest.fixture
def photos(db, real_models, settings, coco_subset_files: list[Path]) -> list[Path]:
    # The test CLIP has random weights: its vectors say nothing, so the semantic tier stays out of the way.
    settings.DEDUP_SEMANTIC_MIN_SCORE = 1.01
    return coco_subset_files[:3]


def index(dataset, files: dict[str, bytes]) -> IndexingJob:
    for name, data in files.items():
        ingest.ingest_image(dataset, name, data, "train")
    job, ids = jobs.create_job(dataset)
    return jobs.run_job(job, ids)


def by_name(dataset, name: str) -> SourceImage:
    return SourceImage.objects.get(dataset=dataset, original_name=name)


def groups_by_name() -> list[set[str]]:
    return [
        set(group.members.values_list("image__original_name", flat=True))
        for group in DuplicateGroup.objects.order_by("id")
    ]


def originals_and_copies(photos: list[Path]) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in photos}
    files["q60.jpg"] = altered(photos[0], "jpeg60")
    files["half.jpg"] = altered(photos[1], "half")
    return files


def test_link_groups_copies_with_their_originals_and_indexes_both(photos, settings):
    settings.DEDUP_ON_INGEST = "link"
    dataset = make_dataset()
    job = index(dataset, originals_and_copies(photos))

    assert groups_by_name() == [{photos[0].name, "q60.jpg"}, {photos[1].name, "half.jpg"}]
    member = DuplicateMember.objects.get(image__original_name="q60.jpg")
    assert member.tier == Tier.PERCEPTUAL and member.score >= 0.9
    assert by_name(dataset, "q60.jpg").crops.exists()  # linked, and indexed too
    assert duplicate_ingest.job_counts(job) == {"duplicates_skipped": 0, "duplicates_linked": 4}


def test_skip_leaves_copies_unindexed_and_counts_them(photos, settings):
    settings.DEDUP_ON_INGEST = "skip"
    dataset = make_dataset()
    index(dataset, {p.name: p.read_bytes() for p in photos})
    later = index(dataset, {"q60.jpg": altered(photos[0], "jpeg60"), "half.jpg": altered(photos[1], "half")})

    for name in ("q60.jpg", "half.jpg"):
        copy = by_name(dataset, name)
        assert copy.status == SourceImage.Status.DONE and not copy.crops.exists()
        assert PhotoFingerprint.objects.get(image=copy).skipped
    assert later.processed_images == 2 and later.status == IndexingJob.Status.DONE
    assert duplicate_ingest.job_counts(later) == {"duplicates_skipped": 2, "duplicates_linked": 2}
    assert groups_by_name() == [{photos[0].name, "q60.jpg"}, {photos[1].name, "half.jpg"}]
    assert by_name(dataset, photos[2].name).crops.exists()


def test_keep_indexes_copies_without_grouping_them(photos, settings):
    settings.DEDUP_ON_INGEST = "keep"
    dataset = make_dataset()
    index(dataset, originals_and_copies(photos))
    assert DuplicateGroup.objects.count() == 0
    assert by_name(dataset, "q60.jpg").crops.exists()
    assert PhotoFingerprint.objects.filter(image__dataset=dataset).count() == 5  # hashed all the same


def test_a_broken_photo_is_reported_and_the_others_grouped(photos, settings):
    settings.DEDUP_ON_INGEST = "link"
    dataset = make_dataset()
    broken = refused_uploads()["truncated JPEG"]
    from tests.indexing.pipeline.test_batch import stored

    stored(dataset, broken.name, broken.data)
    job = index(dataset, originals_and_copies(photos))

    assert job.status == IndexingJob.Status.DONE and job.failed_images == 1
    assert "truncated" in by_name(dataset, broken.name).error
    assert len(groups_by_name()) == 2


def test_embed_and_index_reports_skipped_duplicates(photos, settings, tmp_path, capsys):
    settings.DEDUP_ON_INGEST = "skip"
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, data in originals_and_copies(photos).items():
        (folder / name).write_bytes(data)

    call_command("embed_and_index", "--dataset_path", str(folder), "--no-index")

    out = capsys.readouterr().out
    assert "2 near-duplicate(s) skipped" in out, out


def test_a_bad_policy_is_a_clear_error(photos, settings):
    settings.DEDUP_ON_INGEST = "drop"
    dataset = make_dataset()
    with pytest.raises(ValueError, match="DEDUP_ON_INGEST"):
        index(dataset, {photos[0].name: photos[0].read_bytes()})


def test_odd_photos_are_fingerprinted_by_the_pipeline(photos, settings):
    import io

    from PIL import Image

    from tests.bad_files import encoded, odd_but_valid_uploads, photo_like

    settings.DEDUP_ON_INGEST = "link"
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    photo_like(120, 90, seed=9).save(rotated, "JPEG", quality=90, exif=exif.tobytes())
    odd = {upload.name: upload.data for upload in odd_but_valid_uploads().values()}
    odd |= {"dot.png": encoded(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), "rotated.jpg": rotated.getvalue()}
    dataset = make_dataset()
    job = index(dataset, odd)

    assert job.failed_images == 0, list(SourceImage.objects.filter(dataset=dataset).values_list("error", flat=True))
    assert PhotoFingerprint.objects.filter(image__dataset=dataset).count() == len(odd) == 6
