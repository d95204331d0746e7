"""An indexed COCO128 sample for search tests (real detector, test CLIP, real database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from indexing.catalog import ingest
from indexing.models import Dataset
from indexing.pipeline import jobs

INDEXED_IMAGES = 6


@pytest.fixture(autouse=True)
def every_search_sees_the_current_build(fresh_index_holder):
    """Every test sees the current builds at once (tests/conftest.py)."""


def index_files(files: list[Path], name: str = "coco128-sample") -> Dataset:
    dataset = Dataset.objects.create(name=name, version="version_1", split_names=["train"])
    ingest.ingest_files(dataset, [(path, "train") for path in files])
    job, ids = jobs.create_job(dataset)
    # Unrelated photos: the test CLIP's random vectors would make them "semantic duplicates",
    # which the pages fold into one result (the demo turns that tier off with it too).
    with override_settings(DEDUP_SEMANTIC_MIN_SCORE=1.01):
        jobs.run_job(job, ids)
    return dataset


@pytest.fixture
def indexed(db, real_models, coco_subset_files) -> list[Path]:
    """The first images of the COCO128 sample, indexed (no FAISS build yet)."""
    files = coco_subset_files[:INDEXED_IMAGES]
    index_files(files)
    return files
