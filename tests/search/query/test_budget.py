"""Bounded read paths (search.query.budget): the worst filters cost a bounded number of candidates, rounds and rows.

Real PostgreSQL and a real FAISS build; the work is counted (search.query.budget.Work), never timed.
"""

from __future__ import annotations

import numpy as np
import pytest
from rest_framework.test import APIClient

from indexing.ann import builds
from indexing.models import Crop, Dataset
from indexing.vectors import copy_crops, exact_nearest
from search.query import filtered, paging
from search.query.budget import Work
from search.query.filters import CropFilter
from search.query.index_cache import index_holder
from tests.factories import configured_embedder_version, make_dataset, make_image, unit_vectors

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_caps(settings):
    settings.SEARCH_INDEX_CHECK_SECONDS = 0
    settings.SEARCH_FILTER_EXACT_MAX = 10  # every filter here takes the index's widening path
    settings.SEARCH_MAX_CANDIDATES = 400
    settings.SEARCH_MAX_ROUNDS = 3
    index_holder.reset()
    filtered.forget()
    yield
    index_holder.reset()
    filtered.forget()


def store(dataset: Dataset, vectors: np.ndarray, labels: list[str]) -> list[int]:
    image = make_image(dataset, seed=dataset.pk)
    before = set(Crop.objects.values_list("pk", flat=True))
    copy_crops(image_id=image.pk, vectors=vectors, labels=labels, version=configured_embedder_version())
    return sorted(set(Crop.objects.values_list("pk", flat=True)) - before)


@pytest.fixture
def collection(real_models):
    """3,000 crops in a kept dataset (3 % of them "sports ball"), 1,000 in a dataset being deleted."""
    kept, doomed = make_dataset("kept"), make_dataset("doomed")
    labels = ["sports ball" if i % 33 == 0 else "person" for i in range(3000)]
    store(kept, unit_vectors(3000, seed=41), labels)
    doomed_ids = store(doomed, unit_vectors(1000, seed=42), ["person"] * 1000)
    builds.publish_build("Flat", version=configured_embedder_version())
    Dataset.objects.filter(pk=doomed.pk).update(status=Dataset.Status.DELETING)
    return kept, doomed, doomed_ids


def page_of(query: np.ndarray, crop_filter: CropFilter, *, k: int, offset: int, work: Work) -> paging.Page:
    return paging.pages(
        query[None, :],
        version=configured_embedder_version(),
        k=k,
        offset=offset,
        crop_filter=crop_filter,
        min_score=None,
        work=work,
    )[0]


def test_a_filter_on_a_deleting_dataset_touches_no_candidates(collection):
    _, doomed, doomed_ids = collection
    work = Work.from_settings()
    page = page_of(unit_vectors(1, seed=43)[0], CropFilter(dataset_ids=(doomed.pk,)), k=10, offset=0, work=work)
    assert page.results == [] and not page.truncated
    # Eligibility uses the visibility rule: the doomed crops are not candidates at all (no widening).
    assert (work.candidates, work.rounds, work.rows) == (0, 0, 0)
    assert len(doomed_ids) == 1000 and index_holder.current(version=configured_embedder_version()).index.ntotal == 4000


def test_a_deep_page_of_a_rare_label_stops_at_the_caps_and_says_so(collection, settings):
    query = unit_vectors(1, seed=44)[0]
    work = Work.from_settings()
    page = page_of(query, CropFilter(labels=("sports ball",)), k=10, offset=80, work=work)
    # 91 results of a 3 % label would need about 3,000 candidates: the caps stop it first.
    assert page.truncated
    assert 0 < work.candidates <= settings.SEARCH_MAX_CANDIDATES
    assert 0 < work.rounds <= settings.SEARCH_MAX_ROUNDS
    assert work.rows <= 91 + 10  # whole rows: the survivors kept (and the tail's ids: none here)
    assert work.truncated


def test_within_the_caps_a_deep_page_of_a_rare_label_is_exact_and_not_truncated(collection, settings):
    settings.SEARCH_MAX_CANDIDATES = 4000
    settings.SEARCH_MAX_ROUNDS = 8
    query = unit_vectors(1, seed=45)[0]
    work = Work.from_settings()
    page = page_of(query, CropFilter(labels=("sports ball",)), k=10, offset=80, work=work)
    rare = Crop.objects.filter(label="sports ball", image__dataset__status=Dataset.Status.ACTIVE)
    exact = [c.pk for c in exact_nearest(rare, query, 91)]
    assert [r.crop_id for r in page.results] == exact[80:90] and not page.truncated
    assert work.candidates <= 4000 and work.rounds <= 8


def test_the_request_cap_is_shared_by_the_query_objects(collection, settings):
    queries = unit_vectors(4, seed=46)
    work = Work.from_settings()
    rare = CropFilter(labels=("sports ball",))
    version = configured_embedder_version()
    found = paging.pages(queries, version=version, k=10, offset=80, crop_filter=rare, min_score=None, work=work)
    assert len(found) == 4 and all(page.truncated for page in found)
    assert work.candidates <= settings.SEARCH_MAX_CANDIDATES  # four objects, one request's cap
    assert work.rounds <= 4 * settings.SEARCH_MAX_ROUNDS


def test_the_api_says_when_a_page_was_cut_short(collection):
    client = APIClient()
    body = client.get("/api/search_text", {"query": "a ball", "labels": "sports ball", "offset": 80, "k": 10}).json()
    assert body["truncated"] is True and len(body["results"]) <= 10
    body = client.get("/api/search_text", {"query": "a ball", "labels": "sports ball", "k": 5}).json()
    assert body["truncated"] is False and len(body["results"]) == 5
    page = client.get("/search", {"q": "a ball", "labels": "sports ball", "offset": 80, "k": 10}).content.decode()
    assert 'class="note truncated"' in page and "more may match" in page
    page = client.get("/search", {"q": "a ball", "labels": "sports ball", "k": 5}).content.decode()
    assert 'class="note truncated"' not in page


def test_a_page_deeper_than_the_index_reaches_stops_widening_and_says_so(collection, settings):
    settings.ANN_IVF_NPROBE = 1  # an IVF probes one list of ~60 vectors, for any k
    # Untuned: a build's recall tuning (indexing.ann.recall.measure) would raise nprobe past one list.
    settings.ANN_RECALL_MIN_SIZE = 10**9
    builds.publish_build("IVF64,Flat", version=configured_embedder_version())
    work = Work.from_settings()
    page = page_of(unit_vectors(1, seed=47)[0], CropFilter(), k=10, offset=80, work=work)
    # A wider fetch probes the same list again and finds no more: it stops there, and says the page is short.
    assert work.rounds == 2 and page.truncated and len(page.results) < 10
    assert work.candidates < 200  # the list's ids, each checked once
