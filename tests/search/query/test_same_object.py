""" "The same object elsewhere": candidates from the served index, under the visibility rule."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from indexing.ann import builds
from indexing.models import Dataset
from search.query import same_object
from search.query.budget import Work
from search.query.index_cache import index_holder
from tests.factories import make_crop, make_dataset, make_image, unit_vectors

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh(settings):
    settings.SEARCH_INDEX_CHECK_SECONDS = 0
    settings.DEDUP_OBJECT_MIN_SCORE = 0.9
    index_holder.reset()
    yield
    index_holder.reset()


def near(vector: np.ndarray, seed: int, amount: float = 0.05) -> np.ndarray:
    noisy = vector + amount * unit_vectors(1, seed=seed)[0]
    return noisy / np.linalg.norm(noisy)


@pytest.fixture
def copies():
    """One object seen in four photos: its own, a kept dataset's, a dataset being deleted, and one stored later."""
    vector = unit_vectors(1, seed=61)[0]
    kept, doomed = make_dataset("kept"), make_dataset("doomed")
    own_image = make_image(kept, seed=1)
    made = {
        "crop": make_crop(own_image, vector),
        "own_photo": make_crop(own_image, near(vector, 2)),
        "kept": make_crop(make_image(kept, seed=2), near(vector, 3)),
        "doomed": make_crop(make_image(doomed, seed=3), near(vector, 4)),
    }
    others = [make_image(kept, seed=100 + n) for n in range(6)]
    for n, other in enumerate(unit_vectors(300, seed=62)):  # unrelated crops: the index has to choose
        make_crop(others[n % 6], other)
    builds.publish_build("Flat")
    made["later"] = make_crop(make_image(kept, seed=4), near(vector, 5))  # in the build's SQL tail
    Dataset.objects.filter(pk=doomed.pk).update(status=Dataset.Status.DELETING)
    return made


def found_ids(groups) -> set[int]:
    return {row["crop"].pk for group in groups for row in group}


def test_the_same_object_comes_from_the_index_and_its_tail_under_the_visibility_rule(copies):
    work = Work.from_settings()
    with CaptureQueriesContext(connection) as queries:
        groups = same_object.same_object_groups(copies["crop"].pk, work=work)
    assert found_ids(groups) == {copies["kept"].pk, copies["later"].pk}  # not its own photo, not a deleting dataset
    assert work.rounds == 1 and work.candidates <= same_object.SAME_OBJECT_LIMIT + 2 + 8  # one bounded index search
    ranked_in_sql = [q["sql"] for q in queries.captured_queries if "<=>" in q["sql"]]
    assert len(ranked_in_sql) == 1 and '"reactivated" >' in ranked_in_sql[0]  # only the tail is ranked in SQL


def test_a_crop_of_a_deleting_dataset_has_no_same_object_page(copies):
    assert same_object.same_object_groups(copies["doomed"].pk) is None
    assert APIClient().get(f"/api/crops/{copies['doomed'].pk}/same-object").status_code == 404


def test_the_api_lists_the_same_object_from_the_index(copies):
    body = APIClient().get(f"/api/crops/{copies['crop'].pk}/same-object").json()
    rows = [row for group in body["groups"] for row in group]
    assert {row["crop_id"] for row in rows} == {copies["kept"].pk, copies["later"].pk}
    assert all(row["score"] >= 0.9 for row in rows)
