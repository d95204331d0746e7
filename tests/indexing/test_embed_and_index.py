"""embed_and_index from the command line: index, rerun (adds nothing, says so), resume."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from indexing.catalog import ingest
from indexing.models import Crop, Dataset, IndexBuild, IndexingJob, SourceImage
from indexing.pipeline import batch as pipeline

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("real_models")]


def run(folder: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("embed_and_index", "--dataset-path", str(folder), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def small_folder(dataset_folder: Path) -> Path:
    for extra in sorted(dataset_folder.iterdir())[4:]:
        extra.unlink()
    return dataset_folder


def test_index_then_rerun_adds_nothing_and_says_so(small_folder):
    first = run(small_folder, "--split", "all")
    assert "4 new image(s)" in first and "Index build" in first
    crops = Crop.objects.count()
    assert crops > 0 and IndexBuild.objects.filter(status="ready").count() == 1

    assert IndexingJob.objects.count() == 1
    second = run(small_folder, "--dataset_path", str(small_folder))
    assert "Nothing new to index" in second and "up to date" in second
    assert IndexingJob.objects.count() == 1  # a run with nothing to do records no empty job
    assert Crop.objects.count() == crops
    assert SourceImage.objects.count() == 4
    assert IndexBuild.objects.count() == 1


def test_a_run_stopped_halfway_resumes_without_duplicates(small_folder):
    # What a run killed after its first batch leaves: all photos stored, two processed.
    dataset = ingest.dataset_for_path(small_folder)
    ingest.ingest_files(dataset, ingest.dataset_image_files(small_folder))
    pipeline.process_images(ingest.pending_image_ids(dataset)[:2])
    done_before = set(SourceImage.objects.filter(status="done").values_list("pk", flat=True))
    crops_before = set(Crop.objects.values_list("pk", flat=True))
    assert len(done_before) == 2 and crops_before, "the first batch must have stored crops to compare"

    output = run(small_folder)
    assert "0 new image(s), 4 already stored; 2 to process" in output
    assert SourceImage.objects.filter(status="done").count() == 4
    # The photos done before are left alone: the very same crop rows, none deleted, none added.
    assert set(Crop.objects.filter(image_id__in=done_before).values_list("pk", flat=True)) == crops_before
    # The rest were processed by this run: they have crops of their own now.
    assert Crop.objects.exclude(image_id__in=done_before).exists()
    boxes = Crop.objects.values_list("image_id", "x1", "y1", "x2", "y2")
    assert len(set(boxes)) == len(boxes)
    assert Dataset.objects.count() == 1


def test_unknown_folder_or_split_is_a_clear_error(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        run(tmp_path / "nowhere")
    (tmp_path / "images" / "train").mkdir(parents=True)
    with pytest.raises(CommandError, match="No split folder"):
        run(tmp_path, "--split", "val")


def test_models_that_cannot_load_stop_the_run_with_the_reason_and_keep_the_photos_pending(small_folder, settings):
    from django.core.management.base import CommandError

    from indexing.models import IndexingJob
    from indexing.vision.detector import reset_detector

    settings.DETECTOR_WEIGHTS = str(small_folder / "no-such-weights.pt")
    reset_detector()
    with pytest.raises(CommandError, match=r"DETECTOR_WEIGHTS=.*no-such-weights\.pt.* does not exist"):
        run(small_folder, "--split", "all")
    job = IndexingJob.objects.get()
    assert job.status == IndexingJob.Status.FAILED and "no-such-weights.pt" in job.error
    # A setup problem is not the photos' fault: they wait for the next run, none is failed.
    assert set(SourceImage.objects.values_list("status", flat=True)) == {SourceImage.Status.PENDING}
    assert SourceImage.objects.count() == 4
