"""Served builds (search.query.index_cache): one per CLIP version, kept from other versions' requests, swapped whole."""

from __future__ import annotations

import threading

import pytest

from indexing.ann import builds
from indexing.served_models import served_embedder_version
from search.query import index_cache, services
from search.query.index_cache import index_holder
from tests.factories import make_crop, make_dataset, make_image, unit_vectors

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_holder(settings):
    settings.SEARCH_INDEX_CHECK_SECONDS = 3600  # as in production: one check, then the held build is used
    index_holder.reset()
    yield
    index_holder.wait_for_loads()
    index_holder.reset()


@pytest.fixture
def versions():
    """Crops of an old CLIP ("old", "older") left over, and the served one's ("served": the newest crops)."""
    image = make_image(make_dataset(), seed=1)
    vectors = unit_vectors(30, seed=51)
    made = {}
    for n, version in enumerate(("older", "old", "served")):  # the newest crop's version is served
        made[version] = [make_crop(image, v, embedder_version=version).pk for v in vectors[n * 10 : (n + 1) * 10]]
    assert served_embedder_version() == "served"
    return made


def test_more_like_this_on_a_crop_of_another_version_leaves_the_served_index_loaded(versions):
    builds.publish_build("Flat", version="served")
    served = index_holder.current(version="served")
    assert served is not None and index_holder.loads == 1
    # "old" has no build: its crops are ranked in SQL, among themselves alone.
    similar = services.similar_to_crop(versions["old"][0], k=5)
    assert {r.crop_id for r in similar} <= set(versions["old"]) and len(similar) == 5
    assert index_holder.current(version="served") is served  # not evicted, not reloaded
    assert index_holder.loads == 1


def test_other_versions_builds_are_held_beside_the_served_one_and_only_they_are_dropped(
    versions, settings, monkeypatch
):
    settings.SEARCH_INDEX_OTHER_VERSIONS = 1
    # Builds of several versions at once (a re-embed's new model waits beside the served one, say).
    monkeypatch.setattr(builds, "prune_builds", lambda keep: 0)
    for version in ("served", "old", "older"):
        builds.publish_build("Flat", version=version)
    served = index_holder.current(version="served")
    services.similar_to_crop(versions["old"][0], k=3)
    assert index_holder.held_versions() == {"served", "old"}
    services.similar_to_crop(versions["older"][0], k=3)  # one other version at most: "old" goes, not "served"
    assert index_holder.held_versions() == {"served", "older"}
    assert index_holder.current(version="served") is served


def test_a_newer_build_loads_in_the_background_while_the_old_one_serves(versions, settings, monkeypatch):
    settings.SEARCH_INDEX_CHECK_SECONDS = 0
    settings.SEARCH_INDEX_LOAD_IN_BACKGROUND = True
    first = builds.publish_build("Flat", version="served")
    assert index_holder.current(version="served").build_id == first.pk
    second = builds.publish_build("Flat", version="served")
    release, started = threading.Event(), threading.Event()
    load_build = builds.load_build

    def slow_load(build):
        started.set()
        assert release.wait(30)
        return load_build(build)

    monkeypatch.setattr(index_cache.builds, "load_build", slow_load)
    # The request that finds the newer build does not wait for it: the old one answers.
    assert index_holder.current(version="served").build_id == first.pk
    assert started.wait(30)
    assert index_holder.current(version="served").build_id == first.pk  # still loading: still the old one
    release.set()
    index_holder.wait_for_loads()
    assert index_holder.current(version="served").build_id == second.pk  # swapped in whole


def test_a_build_that_cannot_load_leaves_the_old_one_serving(versions, settings, monkeypatch):
    settings.SEARCH_INDEX_CHECK_SECONDS = 0
    first = builds.publish_build("Flat", version="served")
    assert index_holder.current(version="served").build_id == first.pk
    broken = builds.publish_build("Flat", version="served")
    broken.file.delete(save=False)  # its file is gone
    assert index_holder.current(version="served").build_id == first.pk
