"""FAISS builds: exact agreement with pgvector, publishing only complete builds, pruning."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from django.utils import timezone

from indexing.ann import faiss_index as ann
from indexing.ann.builds import index_is_current, latest_ready_build, load_build, prune_builds, publish_build
from indexing.models import Crop, IndexBuild, ModelChange
from indexing.vectors import exact_nearest
from tests.factories import make_crop, make_dataset, make_image, unit_vectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def crops() -> list[Crop]:
    image = make_image(make_dataset())
    return [make_crop(image, vector) for vector in unit_vectors(300, seed=7)]


def pgvector_exact_top10(query: np.ndarray) -> list[tuple[int, float]]:
    """Exact cosine top-10 in PostgreSQL (there is no ANN index on the embedding to approximate it)."""
    return [(row.pk, 1.0 - row.distance) for row in exact_nearest(Crop.objects.filter(is_active=True), query, 10)]


def test_flat_build_matches_pgvector_exact_top10(crops):
    build = publish_build("Flat")
    index = load_build(build)
    for query in unit_vectors(20, seed=8):
        scores, ids = ann.search(index, query, 10)
        expected = pgvector_exact_top10(query)
        assert list(ids[0]) == [pk for pk, _ in expected]
        np.testing.assert_allclose(scores[0], [score for _, score in expected], atol=1e-4)


def test_only_active_crops_are_indexed(crops):
    Crop.objects.filter(pk__in=[c.pk for c in crops[:10]]).update(is_active=False)
    build = publish_build()
    index = load_build(build)
    assert build.size == index.ntotal == len(crops) - 10
    _, ids = ann.search(index, np.asarray(crops[0].embedding, dtype=np.float32), 5)
    assert crops[0].pk not in set(ids[0])


def test_a_failed_build_leaves_the_previous_one_in_service(crops, monkeypatch):
    good = publish_build()

    def crash(index, path):
        raise MemoryError("simulated crash while writing the index file")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(MemoryError):
        publish_build()
    failed = IndexBuild.objects.exclude(pk=good.pk).get()
    assert failed.status == IndexBuild.Status.FAILED and "simulated crash" in failed.error
    assert not failed.file
    assert latest_ready_build() == good


def test_a_corrupt_build_file_is_refused(crops):
    build = publish_build()
    with build.file.open("wb") as handle:
        handle.write(b"garbage")
    with pytest.raises(ValueError, match="corrupt"):
        load_build(build)


def test_old_builds_are_pruned_with_their_files(crops, settings):
    settings.ANN_KEEP_BUILDS = 2
    builds = [publish_build() for _ in range(4)]
    kept = set(IndexBuild.objects.values_list("pk", flat=True))
    assert kept == {builds[-1].pk, builds[-2].pk}
    from django.core.files.storage import storages

    assert not storages["indexes"].exists(builds[0].file.name)
    assert storages["indexes"].exists(builds[-1].file.name)


def test_a_reembeds_build_waits_for_its_switch_and_the_old_models_builds_go_after_it(crops, settings):
    settings.ANN_KEEP_BUILDS = 1
    served = crops[0].embedder_version
    for vector in unit_vectors(3, seed=8):  # crops the new model made (as a re-embed's staged vectors)
        make_crop(crops[0].image, vector, embedder_version="new-clip")
    make_crop(crops[0].image, unit_vectors(1, seed=9)[0])  # the newest crop: the served model's (no change done)
    change = ModelChange.objects.create(kind="embedder", source="new", version="new-clip", status="running")
    waiting = publish_build("Flat", version="new-clip")
    later = [publish_build("Flat", version=served) for _ in range(2)]  # the served model's updates go on
    assert set(IndexBuild.objects.values_list("pk", flat=True)) == {waiting.pk, later[-1].pk}
    ModelChange.objects.filter(pk=change.pk).update(status="done", finished=timezone.now())  # the switch
    prune_builds(1)
    assert list(IndexBuild.objects.values_list("pk", flat=True)) == [waiting.pk]


def test_builds_made_before_private_storage_move_out_of_public_media(crops, settings):
    """Migration 0002 moves index files that earlier builds left under MEDIA_ROOT."""
    from importlib import import_module
    from pathlib import Path

    from django.apps import apps
    from django.core.files.storage import default_storage

    build = publish_build("Flat")
    name = build.file.name
    old = Path(settings.MEDIA_ROOT) / name  # where builds used to be written
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(Path(build.file.path).read_bytes())
    build.file.storage.delete(name)

    migration = import_module("indexing.migrations.0002_private_index_files_and_permissions")
    migration.move_index_files_out_of_media(apps, None)

    assert not default_storage.exists(name) and not old.exists()
    build.refresh_from_db()
    assert load_build(build).ntotal == len(crops)


def test_approximate_kinds_find_most_exact_neighbours(crops):
    vectors = np.asarray([c.embedding for c in crops], dtype=np.float32)
    ids = np.asarray([c.pk for c in crops])
    queries = vectors[:20] + 0.05 * unit_vectors(20, seed=9)
    _, truth = ann.search(ann.make_index(vectors, ids, "Flat"), queries, 10)
    for kind in ("HNSW32", "IVF16,SQ8"):
        _, found = ann.search(ann.make_index(vectors, ids, kind), queries, 10)
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
        assert recall >= 0.9, (kind, recall)


def test_gpu_request_without_gpu_builds_on_cpu_and_says_so(crops, caplog, monkeypatch):

    query = unit_vectors(1, seed=8)[0]
    expected = [pk for pk, _ in pgvector_exact_top10(query)]

    # Without a GPU (made so here, whatever this machine has): built on the CPU, and said.
    with monkeypatch.context() as no_gpu:
        no_gpu.setattr(ann, "gpu_available", lambda: False)
        build = publish_build("Flat", use_gpu=True)
    assert build.status == IndexBuild.Status.READY
    assert "no FAISS GPU support" in caplog.text and "building Flat on CPU" in caplog.text
    assert list(ann.search(load_build(build), query, 10)[1][0]) == expected


@pytest.mark.gpu
def test_gpu_build_runs_on_the_gpu_and_finds_what_postgresql_finds(crops, caplog, monkeypatch):
    """Only on a GPU host (`pytest -m gpu`): the default suite deselects it rather than skip it."""
    import faiss

    assert ann.gpu_available(), "pytest -m gpu needs a GPU visible to FAISS (faiss-gpu)"
    query = unit_vectors(1, seed=8)[0]
    expected = [pk for pk, _ in pgvector_exact_top10(query)]
    # Every move of the index to the GPU and back: proof that the build really ran there.
    moves: list[str] = []
    to_gpu, to_cpu = faiss.index_cpu_to_gpu, faiss.index_gpu_to_cpu

    def spy_to_gpu(*args: object) -> object:
        moves.append("to GPU")
        return to_gpu(*args)

    def spy_to_cpu(*args: object) -> object:
        moves.append("to CPU")
        return to_cpu(*args)

    monkeypatch.setattr(faiss, "index_cpu_to_gpu", spy_to_gpu)
    monkeypatch.setattr(faiss, "index_gpu_to_cpu", spy_to_cpu)
    caplog.clear()
    build = publish_build("Flat", use_gpu=True)
    assert build.status == IndexBuild.Status.READY
    assert moves == ["to GPU", "to CPU"], moves
    assert "on CPU" not in caplog.text
    # What the GPU built finds what PostgreSQL finds.
    assert list(ann.search(load_build(build), query, 10)[1][0]) == expected


def test_index_is_current_until_a_crop_is_added_or_shown_again(crops):
    publish_build()
    assert index_is_current()
    # Hiding a crop needs no new build: search filters it out at query time.
    Crop.objects.filter(pk=crops[0].pk).update(is_active=False)
    assert index_is_current()
    # Showing it again does: it may be missing from the index.
    Crop.objects.filter(pk=crops[0].pk).update(is_active=True)
    assert not index_is_current()
    publish_build()
    make_crop(crops[0].image, unit_vectors(1, seed=5)[0])
    assert not index_is_current()
