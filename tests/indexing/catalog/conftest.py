"""Helpers of the deletion tests: two small indexed collections, each test with its own storage."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from indexing.ann import builds
from indexing.catalog import deletion
from indexing.catalog.stored_files import walk_files
from indexing.models import Crop, Dataset, SourceImage, crop_file_name
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors


@pytest.fixture
def own_storage(settings, tmp_path):
    """Media and index folders of this test alone: the consistency check sees every file in them."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.INDEX_ROOT = tmp_path / "indexes"


def make_collection(name: str, images: int, seed: int) -> Dataset:
    """A dataset of photos with two crops each, crop files included, as the pipeline leaves them."""
    dataset = make_dataset(name)
    vectors = iter(unit_vectors(images * 2, seed=seed))
    for number in range(images):
        image = make_image(dataset, seed=seed * 100 + number)
        for index in range(2):
            name_in_storage = default_storage.save(crop_file_name(image, index), ContentFile(png_bytes()))
            make_crop(image, next(vectors), file=name_in_storage)
        SourceImage.objects.filter(pk=image.pk).update(status=SourceImage.Status.DONE)
    return dataset


def searched_datasets(kept: Dataset) -> set[str]:
    """The datasets of every crop "more like" one of ``kept``'s, through the served FAISS build."""
    from search.query import services
    from search.query.index_cache import index_holder

    index_holder.reset()
    crop = Crop.objects.filter(image__dataset=kept).first()
    results = services.similar_to_crop(crop.pk, k=50)
    # Every other crop of its own dataset is found, whatever else is.
    assert (
        sum(result.dataset == str(kept) for result in results) == Crop.objects.filter(image__dataset=kept).count() - 1
    )
    return {result.dataset for result in results}


def stored_under(dataset_id: int) -> list[str]:
    return [name for prefix in deletion.dataset_prefixes(dataset_id) for name in walk_files(default_storage, prefix)]


@pytest.fixture
def two_datasets(settings):
    kept, doomed = make_collection("kept", 3, seed=1), make_collection("doomed", 5, seed=2)
    builds.publish_build()
    settings.SEARCH_INDEX_CHECK_SECONDS = 0
    assert searched_datasets(kept) == {str(kept), str(doomed)}  # before: both answer
    return kept, doomed
