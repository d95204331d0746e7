"""A build's recall on record: full builds and updates through update_index, shown in the admin, /healthz, the API."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from indexing.ann import builds
from indexing.models import Crop, IndexBuild
from tests.factories import configured_embedder_version, make_dataset, make_image
from tests.indexing.ann.recall.test_measure import clustered

pytestmark = pytest.mark.django_db


def store_crops(vectors) -> list[int]:
    image = make_image(make_dataset(name=f"set{Crop.objects.count()}"), seed=Crop.objects.count())
    version = configured_embedder_version()
    rows = [
        Crop(image=image, label="person", confidence=0.9, x1=1, y1=2, x2=30, y2=40, embedding=vector,
             detector_version="test-detector", embedder_version=version)
        for vector in vectors
    ]  # fmt: skip
    return [crop.pk for crop in Crop.objects.bulk_create(rows, batch_size=500)]


@pytest.fixture
def recall_settings(settings):
    settings.ANN_RECALL_TARGET = 0.95
    settings.ANN_RECALL_SAMPLE = 200
    settings.ANN_RECALL_MIN_SIZE = 1000
    settings.ANN_RECALL_MAX_P95_MS = 50.0
    settings.ANN_RECALL_RECHECK_EVERY = 500
    # A graph index at a test's size (the chooser would pick exact search for so few crops).
    settings.ANN_INDEX_KIND = "HNSW16"
    return settings


def test_a_full_build_records_its_own_recall_and_latency(recall_settings):
    store_crops(clustered(3000, seed=0))
    build = builds.update_index()
    build.refresh_from_db()
    assert build.status == IndexBuild.Status.READY and build.size == 3000
    assert build.recall_queries == 200 and build.recall_at_10 >= 0.95
    assert build.latency_p50_ms > 0 and build.latency_p95_ms >= build.latency_p50_ms
    assert build.recall_report["reached"] is True and build.recall_measured_size == 3000
    # The knobs it serves are the ones it tuned to, and the stored index searches with them.
    assert build.params == build.recall_report["attempts"][-1]["params"]
    from indexing.ann import faiss_index as ann

    assert ann.search_params(builds.load_build(build))["efSearch"] == build.params["efSearch"]


def test_updates_recheck_recall_every_n_added_vectors(recall_settings):
    store_crops(clustered(3000, seed=0))
    first = builds.update_index()
    store_crops(clustered(200, seed=1))
    small = builds.update_index()
    assert small.parent == first and small.recall_report["inherited_from"] == first.pk
    assert small.recall_measured_size == 3000  # 200 added: not due yet
    store_crops(clustered(400, seed=2))
    due = builds.update_index()
    assert due.parent == small and due.recall_report.get("recheck") is True
    assert due.recall_measured_size == 3600 and due.size == 3600
    assert due.recall_at_10 is not None and due.recall_report["reached"] is True


def test_a_recheck_that_misses_the_target_makes_the_next_update_a_full_build(recall_settings):
    store_crops(clustered(3000, seed=0))
    builds.update_index()
    recall_settings.ANN_RECALL_MAX_P95_MS = 1e-6  # no knob can meet it
    store_crops(clustered(600, seed=1))
    missed = builds.update_index()
    assert missed.recall_report["recheck_missed"] is True and "target missed" in missed.recall_note
    assert "recall fell below ANN_RECALL_TARGET" in builds.rebuild_reason(missed)


def test_the_admin_healthz_and_api_show_the_served_builds_recall(recall_settings, admin_client):
    store_crops(clustered(3000, seed=0))
    build = builds.update_index()
    page = admin_client.get(f"/admin/indexing/indexbuild/{build.pk}/change/").content.decode()
    assert escape(build.recall_note) in page and str(build.recall_at_10) in page
    health = admin_client.get("/healthz").json()["index"]
    assert health["build"] == build.pk and health["recall_at_10"] == build.recall_at_10
    assert "exact by design" in health["filtered"] and "exact by design" in health["tail"]
    api = admin_client.get("/api/index").json()
    assert api["recall_at_10"] == build.recall_at_10 and api["latency_p95_ms"] == build.latency_p95_ms
    assert api["params"] == build.params and api["reached"] is True


def test_the_index_endpoint_is_for_those_who_may_index(client, django_user_model):
    assert client.get("/api/index").status_code in (401, 403)
    client.force_login(django_user_model.objects.create_user("viewer", password="x-long-enough-1"))
    assert client.get("/api/index").status_code == 403


def test_a_flat_build_says_it_is_exact_by_design(recall_settings, client):
    recall_settings.ANN_INDEX_KIND = "auto"
    store_crops(clustered(500, seed=0))
    build = builds.update_index()
    assert build.kind == "Flat" and build.recall_at_10 == 1.0
    assert "exact by design" in build.recall_note
    assert "index" not in client.get("/healthz").json()  # anonymous callers see the status only
