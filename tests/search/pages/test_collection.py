"""The home page's view of the collection: what is searchable, queries to try, one cached query."""

from __future__ import annotations

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from indexing.models import Crop, Dataset
from search.pages import collection
from tests.factories import make_crop, make_dataset, make_image


@pytest.fixture
def collection_rows(db) -> None:
    """Three photos: 3 cars, 2 persons and a book searchable; a hidden crop; a dataset being deleted."""
    cache.delete(collection.CACHE_KEY)
    dataset = make_dataset()
    vector = np.ones(settings.EMBEDDING_DIM, dtype=np.float32)
    photos = [make_image(dataset, seed=i) for i in range(3)]
    for photo, labels in zip(photos, (["car", "car", "person"], ["car", "person"], ["book"]), strict=True):
        for label in labels:
            make_crop(photo, vector, label=label)
    make_crop(photos[2], vector, label="laptop", is_active=False)
    leaving = make_dataset("leaving")
    Dataset.objects.filter(pk=leaving.pk).update(status=Dataset.Status.DELETING)
    make_crop(make_image(leaving, seed=9), vector, label="handbag")
    yield
    cache.delete(collection.CACHE_KEY)


def test_the_summary_counts_searchable_photos_and_objects_and_picks_common_labels(collection_rows):
    found = collection.summary()
    assert (found.photos, found.objects) == (3, 6)
    assert found.samples == ("car", "person", "book")  # most common first; hidden and leaving ones never


def test_the_home_page_reads_the_collection_once_then_from_the_cache(collection_rows):
    client = Client()
    with CaptureQueriesContext(connection) as first:
        page = client.get("/").content.decode()
    assert "3 photos · 6 objects searchable" in page
    assert 'class="sample" href="/search?mode=text&amp;q=car"' in page
    crop_queries = [q["sql"] for q in first.captured_queries if '"indexing_crop"' in q["sql"]]
    assert len(crop_queries) == 1, crop_queries

    Crop.objects.filter(label="book").update(is_active=False)
    with CaptureQueriesContext(connection) as second:
        again = client.get("/").content.decode()
    assert not [q for q in second.captured_queries if '"indexing_crop"' in q["sql"]]
    assert "6 objects searchable" in again  # cached for SUMMARY_CACHE_SECONDS
    cache.delete(collection.CACHE_KEY)
    assert "5 objects searchable" in client.get("/").content.decode()


def test_an_empty_collection_says_how_to_fill_it(db):
    cache.delete(collection.CACHE_KEY)
    page = Client().get("/").content.decode()
    assert "Nothing is searchable yet" in page and 'class="sample"' not in page
    cache.delete(collection.CACHE_KEY)
