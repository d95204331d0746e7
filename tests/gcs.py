"""A Google Cloud Storage emulator (the gcp-storage-emulator package) for the storage tests.

No bucket of ours is reachable from the tests, so media and index storage run through
django-storages' real ``GoogleCloudStorage`` against this emulator: the same client
library, the same JSON API calls, on a loopback port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MEDIA_BUCKET = "visualsearch-media"
PRIVATE_BUCKET = "visualsearch-private"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def emulator(log_path: Path) -> Iterator[str]:
    """Start the emulator (in memory) on a free loopback port; yields its address."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("gcp-storage-emulator")), "start"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--in-memory"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"The GCS emulator did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.2)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def gcs_storages(*, project: str = "test-project") -> dict:
    """STORAGES as visualsearch/settings/storage.py writes them for a bucket (GS_BUCKET_NAME, GS_INDEX_BUCKET_NAME)."""
    return {
        "default": {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            # Public media: the emulator's anonymous client cannot sign URLs (docs/deployment.md, GCS).
            "OPTIONS": {"bucket_name": MEDIA_BUCKET, "project_id": project, "querystring_auth": False},
        },
        "indexes": {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": {
                "bucket_name": PRIVATE_BUCKET,
                "project_id": project,
                "location": "private",
                "querystring_auth": True,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def create_buckets(project: str = "test-project") -> None:
    from google.cloud import storage

    client = storage.Client(project=project)
    for name in (MEDIA_BUCKET, PRIVATE_BUCKET):
        if client.lookup_bucket(name) is None:
            client.create_bucket(name)


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory) -> Iterator[str]:
    """The emulator, for the whole session; STORAGE_EMULATOR_HOST points the client library at it."""
    saved = os.environ.get("STORAGE_EMULATOR_HOST")
    with emulator(tmp_path_factory.mktemp("gcs") / "emulator.log") as address:
        os.environ["STORAGE_EMULATOR_HOST"] = address
        try:
            create_buckets()
            yield address
        finally:
            if saved is None:
                os.environ.pop("STORAGE_EMULATOR_HOST", None)
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = saved


@pytest.fixture
def gcs_storage(gcs_emulator, settings):
    """Media and index files in the emulator's buckets for one test, emptied before it."""
    from django.core.files.storage import storages

    from indexing.models import IndexBuild

    settings.STORAGES = gcs_storages()  # Django drops its cached storages on this change
    settings.GS_BUCKET_NAME = MEDIA_BUCKET
    for name in ("default", "indexes"):
        bucket = storages[name].bucket
        for blob in list(bucket.list_blobs()):
            blob.delete()
    # IndexBuild.file called index_storage() once, at import: point it at this test's storage.
    field = IndexBuild._meta.get_field("file")
    saved = field.storage
    field.storage = storages["indexes"]
    yield storages
    field.storage = saved
