"""Index updates (indexing.ann.builds.update_index): new crops are added, not rebuilt; a full build only when due."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from indexing.ann import builds
from indexing.catalog import curation
from indexing.models import Crop, IndexBuild
from indexing.served_models import served_embedder_version
from indexing.vectors import exact_nearest
from search.query.candidates import search_vectors
from tests.factories import make_crop, make_dataset, make_image, unit_vectors

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_index_holder")]


@pytest.fixture
def image():
    return make_image(make_dataset())


def add_crops(image, count: int, seed: int) -> list[Crop]:
    return [make_crop(image, vector) for vector in unit_vectors(count, seed=seed)]


def exact_top(query: np.ndarray, k: int = 10) -> list[int]:
    return [crop.pk for crop in exact_nearest(Crop.objects.filter(is_active=True), query, k)]


def served_top(query: np.ndarray, k: int = 10) -> list[int]:
    return [r.crop_id for r in search_vectors(query[None, :], k, None, None, version=served_embedder_version())[0]]


def test_new_crops_are_added_to_the_served_index_without_a_rebuild(image):
    add_crops(image, 300, seed=1)
    first = builds.update_index()
    assert first.parent is None and first.trained_size == 300
    added = add_crops(image, 120, seed=2)
    update = builds.update_index()
    assert update.parent_id == first.pk, "a full build ran where an update was due"
    assert update.size == 420 and update.trained_size == 300 and update.max_crop_id == added[-1].pk
    assert builds.load_build(update).ntotal == 420
    # What the updated index serves equals exact search in PostgreSQL.
    for query in unit_vectors(15, seed=3):
        assert served_top(query) == exact_top(query)
    assert builds.update_index() is None  # nothing new: no build at all


def test_an_updated_ivf_index_finds_what_exact_search_finds(image, settings):
    settings.ANN_INDEX_KIND = "IVF4,Flat"
    settings.ANN_IVF_NPROBE = 4  # every list: the update itself must lose nothing
    add_crops(image, 300, seed=4)
    builds.update_index()
    add_crops(image, 100, seed=5)
    update = builds.update_index()
    assert update.parent_id is not None and update.kind == "IVF4,Flat"
    for query in unit_vectors(10, seed=6):
        assert served_top(query) == exact_top(query)


def test_crops_stored_after_the_build_are_found_before_any_update(image):
    add_crops(image, 200, seed=7)
    builds.update_index()
    served_top(unit_vectors(1, seed=99)[0])  # the index is loaded
    fresh = add_crops(image, 5, seed=8)
    for crop in fresh:
        assert served_top(np.asarray(crop.embedding, dtype=np.float32), 1) == [crop.pk]
    assert IndexBuild.objects.count() == 1


def test_a_crop_shown_again_is_found_at_once(image):
    crops = add_crops(image, 200, seed=9)
    hidden = crops[17]
    curation.set_crops_active(Crop.objects.filter(pk=hidden.pk), False)
    build = builds.update_index()
    assert builds.load_build(build).ntotal == 199  # built without it
    query = np.asarray(hidden.embedding, dtype=np.float32)
    assert hidden.pk not in served_top(query)
    curation.set_crops_active(Crop.objects.filter(pk=hidden.pk), True)
    assert served_top(query, 1) == [hidden.pk], "a reactivated crop waited for a rebuild"
    # The next update takes it into the index.
    update = builds.update_index()
    assert update.parent_id == build.pk and builds.load_build(update).ntotal == 200


def test_a_hidden_crop_never_comes_back(image):
    crops = add_crops(image, 200, seed=10)
    builds.update_index()
    hidden = crops[3]
    curation.set_crops_active(Crop.objects.filter(pk=hidden.pk), False)
    query = np.asarray(hidden.embedding, dtype=np.float32)
    assert hidden.pk not in served_top(query, 50)
    add_crops(image, 20, seed=11)
    builds.update_index()  # still in the index file: filtered at query time
    assert hidden.pk not in served_top(query, 50)


def test_a_failed_update_leaves_the_served_index_as_it_was(image, monkeypatch):
    add_crops(image, 100, seed=12)
    served = builds.update_index()
    add_crops(image, 10, seed=13)

    def crash(index, path):
        raise OSError("disk full while writing the index")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(OSError, match="disk full"):
        builds.update_index()
    monkeypatch.undo()
    assert builds.latest_ready_build() == served
    failed = IndexBuild.objects.get(status=IndexBuild.Status.FAILED)
    assert failed.parent_id == served.pk and "disk full" in failed.error
    # Searches still find the new crops (ranked in SQL) and the next update succeeds.
    assert builds.update_index().size == 110


def test_crossing_the_retrain_share_rebuilds_from_scratch(image, settings):
    settings.ANN_INDEX_KIND = "IVF4,SQ8"
    settings.ANN_RETRAIN_SHARE = 0.5
    add_crops(image, 300, seed=14)
    builds.update_index()
    add_crops(image, 200, seed=15)  # 200 of 500 untrained: under the share
    assert builds.update_index().parent_id is not None
    add_crops(image, 150, seed=16)  # 350 of 650: over it
    rebuilt = builds.update_index()
    assert rebuilt.parent_id is None and rebuilt.trained_size == rebuilt.size == 650


def test_many_hidden_crops_compact_the_index(image, settings):
    settings.ANN_COMPACT_SHARE = 0.2
    crops = add_crops(image, 100, seed=17)
    builds.update_index()
    curation.set_crops_active(Crop.objects.filter(pk__in=[c.pk for c in crops[:25]]), False)
    add_crops(image, 5, seed=18)
    compacted = builds.update_index()
    assert compacted.parent_id is None and compacted.size == 80


def test_a_rebuild_can_be_asked_for(image):
    add_crops(image, 50, seed=19)
    first = builds.update_index()
    again = builds.update_index(rebuild=True)
    assert again.parent_id is None and again.pk != first.pk


def test_the_command_updates_or_rebuilds(image):
    from io import StringIO

    from django.core.management import call_command

    add_crops(image, 40, seed=20)
    out = StringIO()
    call_command("update_index", stdout=out)
    assert "full build" in out.getvalue()
    add_crops(image, 5, seed=21)
    call_command("update_index", stdout=out)
    assert "update of build" in out.getvalue() and "45 vectors" in out.getvalue()
    call_command("update_index", stdout=out)
    assert "nothing to add" in out.getvalue()
    call_command("update_index", "--rebuild", stdout=out)
    assert builds.latest_ready_build().parent_id is None


def test_the_api_queues_a_full_build_for_indexers_only(
    image, client, django_user_model, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission

    add_crops(image, 30, seed=22)
    first = builds.update_index()
    url = "/api/index/rebuild"
    assert client.post(url).status_code in (401, 403)
    user = django_user_model.objects.create_user("indexer", password="pw", is_staff=True)
    client.force_login(user)
    assert client.post(url).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="index_dataset"))
    client.force_login(django_user_model.objects.get(pk=user.pk))
    with django_capture_on_commit_callbacks(execute=True):  # sent on commit, run eagerly: the build is done
        response = client.post(url)
    assert response.status_code == 202
    rebuilt = builds.latest_ready_build()
    assert rebuilt.pk != first.pk and rebuilt.parent_id is None


def test_a_long_job_updates_the_index_on_the_way(image, settings, django_capture_on_commit_callbacks):
    from indexing.models import IndexingJob, SourceImage
    from indexing.pipeline import jobs
    from indexing.pipeline.batch import BatchResult

    settings.ANN_UPDATE_EVERY = 10
    add_crops(image, 30, seed=23)
    first = builds.update_index()
    job = IndexingJob.objects.create(dataset=image.dataset, total_images=2, status="running")
    SourceImage.objects.filter(pk=image.pk).update(job=job)
    add_crops(image, 12, seed=24)  # as if the job's first batch stored them

    def one_batch(*, job_id, image_ids):
        return BatchResult(done=1, crops=12), False  # the job goes on

    original = jobs.run_batch
    jobs.run_batch = one_batch
    try:
        with django_capture_on_commit_callbacks(execute=True):
            jobs.run_queued_batch(job_id=job.pk, image_ids=[image.pk])
    finally:
        jobs.run_batch = original
    update = builds.latest_ready_build()
    assert update.parent_id == first.pk and update.size == 42
