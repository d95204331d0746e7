"""Media and FAISS index files on Google Cloud Storage, through django-storages' GoogleCloudStorage.

Against the gcp-storage-emulator (tests/gcs.py): ingest, crop files, index build and
load, search, dataset deletion and the consistency check, each reading and writing
real objects in buckets.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import requests

from indexing.ann import builds
from indexing.catalog import deletion, ingest
from indexing.catalog.consistency import check_consistency, index_ids
from indexing.models import Crop, Dataset, IndexBuild, SourceImage
from indexing.pipeline import jobs
from search.query import services
from tests.gcs import MEDIA_BUCKET, gcs_emulator, gcs_storage  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("real_models", "gcs_storage", "fresh_index_holder")]


def objects(storage_name: str, prefix: str = "") -> set[str]:
    from django.core.files.storage import storages

    return {blob.name for blob in storages[storage_name].bucket.list_blobs(prefix=prefix)}


def index_dataset(name: str, files: list[Path]) -> Dataset:
    dataset = Dataset.objects.create(name=name, version="version_1")
    ingested = ingest.ingest_files(dataset, [(path, "") for path in files])
    assert ingested.added == len(files), ingested.refused
    job, ids = jobs.create_job(dataset)
    jobs.run_job(job, ids)
    return dataset


def test_the_collection_lives_in_buckets_and_a_deleted_dataset_leaves_nothing(
    coco_subset_files, django_capture_on_commit_callbacks
):
    kept = index_dataset("kept", coco_subset_files[:3])
    doomed = index_dataset("doomed", coco_subset_files[3:6])
    assert not SourceImage.objects.exclude(status=SourceImage.Status.DONE).exists()

    # Photos and crops are objects in the media bucket, under the names their rows hold.
    media = objects("default")
    assert {image.file.name for image in SourceImage.objects.all()} <= media
    crop_names = set(Crop.objects.values_list("file", flat=True))
    assert crop_names and crop_names <= media
    assert all(name.startswith(("images/", "crops/")) for name in media)

    # The FAISS build is written to the private bucket's private/ prefix, and read back from it.
    build = builds.publish_build()
    assert objects("indexes") == {f"private/{build.file.name}"}
    assert objects("default", "private/") == set()
    assert builds.load_build(build).ntotal == Crop.objects.count()

    # Search serves from that build; a result's crop is fetched from the bucket by its URL.
    results = services.search_text("a photo of a person", k=50)
    assert results and {r.dataset for r in results} == {"kept:version_1", "doomed:version_1"}
    response = requests.get(results[0].crop_url, timeout=5)
    assert response.status_code == 200 and response.content[:3] == b"\xff\xd8\xff"  # the JPEG crop
    assert check_consistency().ok

    doomed_crops = set(Crop.objects.filter(image__dataset=doomed).values_list("pk", flat=True))
    # Files go once the rows' deletion commits (the test's transaction never does: run them here).
    with django_capture_on_commit_callbacks(execute=True):
        deletion.run_deletion(dataset_id=doomed.pk)

    assert objects("default", f"images/{doomed.pk}/") == set()
    assert objects("default", f"crops/{doomed.pk}/") == set()
    assert objects("default", f"images/{kept.pk}/") and objects("default", f"crops/{kept.pk}/")
    served = IndexBuild.objects.filter(status="ready").order_by("-created", "-pk").first()
    assert served.pk != build.pk
    ids = set(index_ids(builds.load_build(served)).tolist())
    assert ids == set(Crop.objects.values_list("pk", flat=True)) and not ids & doomed_crops
    results = services.search_text("a photo of a person", k=50)
    assert results and {r.dataset for r in results} == {"kept:version_1"}
    assert check_consistency().ok

    # A photo removed from the bucket behind the rows' back is found.
    from django.core.files.storage import default_storage

    gone = SourceImage.objects.first().file.name
    default_storage.delete(gone)
    report = check_consistency()
    assert not report.ok and report.rows_without_files == [gone]


def test_similar_crops_come_back_from_a_build_loaded_out_of_the_bucket(coco_subset_files):
    index_dataset("sample", coco_subset_files[:3])
    builds.publish_build()
    crop = Crop.objects.order_by("pk").first()
    similar = services.similar_to_crop(crop.pk, k=3)
    expected = sorted(
        Crop.objects.exclude(pk=crop.pk),
        key=lambda other: -float(np.dot(np.asarray(other.embedding), np.asarray(crop.embedding))),
    )[:3]
    assert [r.crop_id for r in similar] == [c.pk for c in expected]
    # Public media: plain bucket URLs (GS_QUERYSTRING_AUTH=false), served by the bucket, not Django.
    bucket_url = f"{os.environ['STORAGE_EMULATOR_HOST']}/{MEDIA_BUCKET}/"
    assert similar and all(r.image_url.startswith(bucket_url) for r in similar)


PROBE = """
from django.core.files.base import ContentFile
from django.core.files.storage import storages
print(storages["default"].save("images/probe.txt", ContentFile(b"media")))
print(storages["default"].url("images/probe.txt"))
print(storages["indexes"].save("indexes/probe.faiss", ContentFile(b"index")))
"""


def test_the_settings_for_a_bucket_put_media_and_private_index_files_where_they_say():
    """The settings themselves (GS_BUCKET_NAME, GS_INDEX_BUCKET_NAME), read by a fresh process, against the emulator."""
    import subprocess
    import sys

    from tests.gcs import PRIVATE_BUCKET

    env = {
        **os.environ,
        "DEBUG": "true",
        "GS_BUCKET_NAME": MEDIA_BUCKET,
        "GS_INDEX_BUCKET_NAME": PRIVATE_BUCKET,
        "GS_PROJECT_ID": "test-project",
        "GS_QUERYSTRING_AUTH": "false",  # the emulator's anonymous client cannot sign
        "STORAGE_EMULATOR_HOST": os.environ["STORAGE_EMULATOR_HOST"],
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    media_name, media_url, index_name = done.stdout.split()[-3:]
    assert (media_name, index_name) == ("images/probe.txt", "indexes/probe.faiss")
    assert objects("default") == {"images/probe.txt"}
    assert objects("indexes") == {"private/indexes/probe.faiss"}
    assert requests.get(media_url, timeout=5).content == b"media"
