"""Index files: memory-mapped by web processes (one copy per host), copied and checked from remote storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.ann import builds, index_files
from indexing.ann import faiss_index as ann
from indexing.vectors import copy_crops
from tests.factories import make_dataset, make_image, unit_vectors

pytestmark = pytest.mark.django_db


def anonymous_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


@pytest.fixture
def big_build():
    """A Flat build of 60k vectors: a 123 MB file, so the process's own memory shows whether it was copied."""
    image = make_image(make_dataset())
    copy_crops(image_id=image.pk, vectors=unit_vectors(60_000, seed=31), labels=["car"] * 60_000, version="t")
    return builds.publish_build("Flat")


def test_a_served_index_is_mapped_not_copied(big_build):
    queries = unit_vectors(3, seed=32)
    before = anonymous_mb()
    mapped = builds.load_build(big_build)
    ann.search(mapped, queries, 10)  # a Flat search reads every vector: every page is touched
    mapped_growth = anonymous_mb() - before
    copied = index_files.read_index(big_build, mmap=False)
    copied_growth = anonymous_mb() - before - mapped_growth
    assert mapped.ntotal == copied.ntotal == 60_000
    np.testing.assert_array_equal(ann.search(mapped, queries, 10)[1], ann.search(copied, queries, 10)[1])
    assert copied_growth > 100, copied_growth  # the copy holds the vectors in the process
    assert mapped_growth < 30, mapped_growth  # the map leaves them in the page cache, shared


def test_remote_storage_is_copied_to_the_host_cache_once_and_checked(monkeypatch, settings):
    image = make_image(make_dataset())
    copy_crops(image_id=image.pk, vectors=unit_vectors(50, seed=33), labels=["car"] * 50, version="t")
    monkeypatch.setattr(index_files, "local_storage_path", lambda build: None)  # as with GCS
    build = builds.publish_build("Flat")
    cached = index_files.cached_path(build)
    assert cached.exists() and cached.parent == Path(settings.INDEX_CACHE_DIR)  # the writer kept its copy
    cached.unlink()  # another host: nothing cached yet
    assert builds.load_build(build).ntotal == 50 and cached.exists()
    cached.unlink()
    with build.file.open("wb") as handle:
        handle.write(b"not an index")
    with pytest.raises(ValueError, match="corrupt"):
        builds.load_build(build)
    assert not cached.exists()  # a bad download is never left to be trusted later


def test_a_cached_copy_is_trusted_by_its_checksum_not_its_name(monkeypatch, settings):
    image = make_image(make_dataset())
    copy_crops(image_id=image.pk, vectors=unit_vectors(50, seed=34), labels=["car"] * 50, version="t")
    monkeypatch.setattr(index_files, "local_storage_path", lambda build: None)  # as with GCS
    build = builds.publish_build("Flat")
    cached = index_files.cached_path(build)
    cached.write_bytes(cached.read_bytes()[:-100])  # truncated on this host (a full disk, a killed copy)
    assert builds.load_build(build).ntotal == 50  # fetched again from storage, not trusted by its name
    index_files.check(build, cached)  # and the copy now kept is the good one


def test_a_hosts_cache_keeps_the_newest_copies_and_drops_abandoned_parts(monkeypatch, settings):
    import os
    import time

    settings.INDEX_CACHE_KEEP = 2
    settings.ANN_KEEP_BUILDS = 10  # every build stays in storage: only the host's cache is pruned
    image = make_image(make_dataset())
    copy_crops(image_id=image.pk, vectors=unit_vectors(20, seed=35), labels=["car"] * 20, version="t")
    monkeypatch.setattr(index_files, "local_storage_path", lambda build: None)
    cache = Path(settings.INDEX_CACHE_DIR)
    made = []
    for _ in range(4):
        build = builds.publish_build("Flat")
        index_files.cached_path(build).unlink()  # a web host: it has none until it loads one
        made.append(build)
    old_part = cache / "tmp-abandoned.faiss.part"
    old_part.write_bytes(b"half")
    os.utime(old_part, (time.time() - 7200, time.time() - 7200))
    fresh_part = cache / "tmp-in-progress.faiss.part"
    fresh_part.write_bytes(b"half")
    for build in made:  # the host loads each build in turn (an old one last: it is kept while loaded)
        builds.load_build(build)
    builds.load_build(made[0])
    left = {index_files.cached_build_id(p) for p in cache.glob("build-*.faiss")}
    assert left == {made[0].pk, made[2].pk, made[3].pk}  # the two newest, and the one just loaded
    assert not old_part.exists() and fresh_part.exists()
