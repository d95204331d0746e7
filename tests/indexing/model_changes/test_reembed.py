"""Re-embed with a second CLIP: old vectors serve until the switch, only new ones after; resumable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.db import transaction

from indexing import served_models, tasks
from indexing.ann import builds
from indexing.catalog import ingest
from indexing.catalog.consistency import check_consistency, index_ids
from indexing.model_changes import lifecycle as model_changes
from indexing.model_changes import reembed
from indexing.models import Crop, IndexBuild, ModelChange, StagedEmbedding
from indexing.pipeline import jobs
from indexing.pipeline.store import store_batch
from indexing.vision.embedder import get_embedder
from search.query import services
from tests.factories import make_dataset

QUERY = "a photo of a person"


@pytest.fixture(scope="session")
def second_clip_dir(tmp_path_factory) -> Path:
    """Another test CLIP: same shape, other weights (another seed), so every vector changes."""
    path = tmp_path_factory.mktemp("clip-b") / "test-clip-b"
    call_command("make_test_clip", str(path), "--seed", "1")
    return path


def expected_vectors(model_dir: Path) -> dict[int, np.ndarray]:
    """Every crop's vector by ``model_dir``, cut and embedded here, independently of the change's staging."""
    embedder = get_embedder(str(model_dir))
    rows = list(Crop.objects.order_by("pk").values_list("pk", "image_id", "x1", "y1", "x2", "y2", named=True))
    crops = [reembed.CropRow(r.pk, r.image_id, (r.x1, r.y1, r.x2, r.y2)) for r in rows]
    return dict(zip([c.pk for c in crops], embedder.embed_images(reembed.cut_again(crops)), strict=True))


def found(results) -> list[tuple[int, float]]:
    return [(r.crop_id, round(r.score, 4)) for r in results]


@pytest.mark.django_db(transaction=True)
def test_search_serves_the_old_vectors_until_the_switch_and_only_the_new_ones_after(
    indexed_demo, second_clip_dir, settings
):
    old_version = served_models.embedder().version
    first_crop = Crop.objects.order_by("pk").first().pk
    before = found(services.search_text(QUERY, k=5)) + found(services.similar_to_crop(first_crop, k=3))
    assert len(before) == 8
    settings.MODEL_CHANGE_BATCH_SIZE = 2
    change = reembed.start_reembed(model=str(second_clip_dir))
    new_version = change.version
    assert new_version != old_version and change.total == Crop.objects.count()

    during = []

    def mid_run(change: ModelChange) -> None:
        results = found(services.search_text(QUERY, k=5)) + found(services.similar_to_crop(first_crop, k=3))
        during.append((change.processed, served_models.embedder().version, results))

    change = reembed.run_reembed(change_id=change.pk, progress=mid_run)
    assert len(during) >= 3, "the re-embed ran in too few batches to look at search between them"
    # Until the switch: the first CLIP embeds the query, and the old vectors answer it, unchanged.
    assert all(version == old_version and results == before for _, version, results in during)
    assert during[-1][0] == change.total

    assert change.status == ModelChange.Status.DONE
    assert served_models.embedder().version == new_version
    assert set(Crop.objects.values_list("embedder_version", flat=True)) == {new_version}
    assert not StagedEmbedding.objects.exists()
    # Each crop holds the second CLIP's vector of its own pixels.
    expected = expected_vectors(second_clip_dir)
    stored = dict(Crop.objects.values_list("pk", "embedding"))
    for pk, vector in expected.items():
        np.testing.assert_allclose(np.asarray(stored[pk]), vector, atol=1e-5)
    # The served build is the new version's and holds every crop; search answers from it, exactly.
    build = builds.latest_ready_build(version=new_version)
    assert build is not None and set(index_ids(builds.load_build(build)).tolist()) == set(expected)
    assert not IndexBuild.objects.filter(status=IndexBuild.Status.READY, embedder_version=old_version).exists()
    query = get_embedder(str(second_clip_dir)).embed_texts([QUERY])[0]
    exact = sorted(expected, key=lambda pk: (-float(expected[pk] @ query), pk))[:5]
    after = services.search_text(QUERY, k=5)
    assert [r.crop_id for r in after] == exact
    assert [round(r.score, 4) for r in after] == [round(float(expected[pk] @ query), 4) for pk in exact]
    assert check_consistency().ok


@pytest.mark.django_db(transaction=True)
def test_a_batch_embedded_before_the_switch_is_made_again_with_the_new_model(
    indexed_demo, second_clip_dir, coco_subset_files
):
    old_version = served_models.embedder().version
    change = reembed.run_reembed(change_id=reembed.start_reembed(model=str(second_clip_dir)).pk)
    assert change.status == ModelChange.Status.DONE
    # A worker that embedded with the old model before the switch cannot store those vectors after it.
    with pytest.raises(served_models.ModelChanged):
        store_batch([], detector_version=served_models.detector().version, embedder_version=old_version)
    # New photos are embedded with the new model, and found at once.
    dataset = make_dataset("later")
    ingest.ingest_files(dataset, [(path, "") for path in coco_subset_files[6:8]])
    job, ids = jobs.create_job(dataset)
    jobs.run_job(job, ids)
    assert set(Crop.objects.values_list("embedder_version", flat=True)) == {change.version}


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_model_was_switched_while_it_ran_is_made_again(
    indexed_demo, second_clip_dir, coco_subset_files, monkeypatch
):
    change = reembed.start_reembed(model=str(second_clip_dir))
    real_embedder = served_models.embedder
    calls = []

    def switch_while_embedding():
        model = real_embedder()  # the old model, as a worker had it loaded...
        if not calls:  # ...when the re-embed switched, before this batch could store its crops
            reembed.run_reembed(change_id=change.pk)
        calls.append(model.version)
        return model

    monkeypatch.setattr(served_models, "embedder", switch_while_embedding)
    dataset = make_dataset("during")
    ingest.ingest_files(dataset, [(path, "") for path in coco_subset_files[6:8]])
    job, ids = jobs.create_job(dataset)
    job = jobs.run_job(job, ids)
    assert calls == [calls[0], change.version] and calls[0] != change.version  # made once more, with the new one
    assert job.processed_images == 2 and job.failed_images == 0
    assert set(Crop.objects.values_list("embedder_version", flat=True)) == {change.version}


@pytest.mark.django_db(transaction=True)
def test_a_reembed_is_refused_for_the_served_model_and_while_another_is_open(indexed_demo, second_clip_dir, settings):
    with pytest.raises(model_changes.ChangeRefused, match="already embedded"):
        reembed.start_reembed()  # CLIP_MODEL: what every crop is made by
    change = reembed.start_reembed(model=str(second_clip_dir))
    assert reembed.start_reembed(model=str(second_clip_dir)).pk == change.pk  # the same one, resumed
    with pytest.raises(model_changes.ChangeRefused, match="resume it"):
        reembed.start_reembed(model=settings.CLIP_MODEL)


@pytest.mark.django_db(transaction=True)
def test_a_run_that_died_resumes_to_the_same_end_state(indexed_demo, second_clip_dir, settings):
    settings.MODEL_CHANGE_BATCH_SIZE = 2
    change = reembed.start_reembed(model=str(second_clip_dir))

    def die(change: ModelChange) -> None:
        raise RuntimeError("the worker died")

    with pytest.raises(RuntimeError):
        reembed.run_reembed(change_id=change.pk, progress=die)
    change.refresh_from_db()
    assert change.status == ModelChange.Status.FAILED and change.processed == 2
    assert served_models.embedder().version != change.version  # nothing switched

    call_command("reembed", "--resume", "--here")
    change.refresh_from_db()
    assert (change.status, change.processed) == (ModelChange.Status.DONE, change.total)
    stored = dict(Crop.objects.values_list("pk", "embedding"))
    for pk, vector in expected_vectors(second_clip_dir).items():
        np.testing.assert_allclose(np.asarray(stored[pk]), vector, atol=1e-5)
    assert check_consistency().ok


# --- End to end: a real Celery worker on Redis, killed mid re-embed ---------------------


@pytest.mark.django_db(transaction=True)
def test_end_to_end_a_worker_killed_mid_reembed_is_resumed_to_the_same_end_state(
    indexed_demo, second_clip_dir, start_worker, broker, worker_env, own_storage, settings
):
    import redis

    from tests.workers import wait_for

    worker_env["MODEL_CHANGE_BATCH_SIZE"] = "1"  # one crop per transaction: killed with most undone
    worker_env.update(own_storage, INDEX_CACHE_DIR=str(Path(own_storage["INDEX_ROOT"]) / "host-cache"))
    change = reembed.start_reembed(model=str(second_clip_dir))
    crops = list(Crop.objects.order_by("pk").values_list("pk", flat=True))
    # Staged rows of every crop but the first, written and not committed: the worker's insert of the
    # second crop's vector waits on them, so it is killed mid re-embed however fast the machine.
    with transaction.atomic():
        StagedEmbedding.objects.bulk_create(
            [StagedEmbedding(crop_id=pk, version=change.version, embedding=np.ones(512)) for pk in crops[1:]]
        )
        worker = start_worker()
        tasks.model_change_task.delay(change.pk)  # not queue_change: it sends on commit, and this block rolls back
        wait_for(lambda: ModelChange.objects.get(pk=change.pk).processed >= 1, 300, "the first crop", worker)
        worker.kill()
        transaction.set_rollback(True)
    redis.Redis.from_url(broker).flushdb()  # its task is lost with it: only a resume can finish
    change.refresh_from_db()
    assert change.status == ModelChange.Status.RUNNING and change.processed < change.total, "it finished first"
    assert served_models.embedder().version != change.version

    settings.INDEXING_JOB_STALE_SECONDS = 1
    wait_for(lambda: model_changes.mark_stale_changes() or change_status(change) == "stale", 10, "marked stale")
    settings.INDEXING_JOB_STALE_SECONDS = 3600
    worker = start_worker()
    call_command("reembed", "--resume")
    wait_for(lambda: change_status(change) == "done", 300, "the resumed re-embed", worker)

    change.refresh_from_db()
    assert change.processed == change.total == Crop.objects.count()
    assert set(Crop.objects.values_list("embedder_version", flat=True)) == {change.version}
    stored = dict(Crop.objects.values_list("pk", "embedding"))
    for pk, vector in expected_vectors(second_clip_dir).items():  # what an uninterrupted run gives
        np.testing.assert_allclose(np.asarray(stored[pk]), vector, atol=1e-5)
    build = builds.latest_ready_build(version=change.version)
    assert build is not None and set(index_ids(builds.load_build(build)).tolist()) == set(stored)
    assert not StagedEmbedding.objects.exists()
    assert check_consistency().ok


def change_status(change: ModelChange) -> str:
    return ModelChange.objects.get(pk=change.pk).status


@pytest.mark.django_db
def test_staged_vectors_a_crash_after_the_switch_left_are_dropped_when_the_next_reembed_starts():
    from tests.factories import make_crop, make_image, unit_vectors

    image = make_image(make_dataset(), seed=1)
    crops = [make_crop(image, vector) for vector in unit_vectors(2)]
    done = ModelChange.objects.create(kind=ModelChange.Kind.EMBEDDER, source="a", version="clip-a", status="done")
    ModelChange.objects.create(kind=ModelChange.Kind.EMBEDDER, source="b", version="clip-b", status="failed")
    vectors = unit_vectors(4, seed=3)
    for version, offset in ((done.version, 0), ("clip-b", 2)):  # clip-b's change is open: resumable
        StagedEmbedding.objects.bulk_create(
            StagedEmbedding(crop=crop, version=version, embedding=vectors[offset + i]) for i, crop in enumerate(crops)
        )
    assert reembed.drop_leftover_staged() == 2
    assert set(StagedEmbedding.objects.values_list("version", flat=True)) == {"clip-b"}
