"""Fixtures for indexing: real models, a COCO128-derived dataset folder, a Celery worker."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import redis

from tests.workers import REDIS_URL, Worker, test_database_url
from visualsearch.celery import app as celery_app


@pytest.fixture
def dataset_folder(tmp_path: Path, coco_subset_files: list[Path]) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in coco_subset_files:
        shutil.copy(path, folder / path.name)
    return folder


def configure_celery(**conf) -> None:
    """Change the app's broker in this process, dropping connections made for the old one.

    Celery caches its connection and producer pools on first use: without this, tasks
    would still go to whatever broker an earlier test used.
    """
    celery_app.conf.update(**conf)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker():
    """The local Redis as Celery broker, on a database of its own, emptied first."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); `make test` starts one.")
    client.flushdb()
    saved = {"broker_url": celery_app.conf.broker_url, "task_always_eager": celery_app.conf.task_always_eager}
    configure_celery(broker_url=REDIS_URL, task_always_eager=False)
    yield REDIS_URL
    configure_celery(**saved)
    client.flushdb()


@pytest.fixture
def worker_env(broker, media_root, index_root, yolov5n_weights, test_clip_dir, transactional_db) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": broker,
        # The tests' own default is eager (pyproject.toml); a worker queues its batches to the broker.
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MEDIA_ROOT": str(media_root),
        "INDEX_ROOT": str(index_root),
        "INDEX_CACHE_DIR": str(index_root / "host-cache"),
        "DETECTOR_WEIGHTS": str(yolov5n_weights),
        "CLIP_MODEL": str(test_clip_dir),
        "INDEXING_BATCH_SIZE": "3",
        # A killed worker's batch comes back quickly; batches here take a few seconds.
        "CELERY_VISIBILITY_TIMEOUT": "20",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def start_worker(worker_env, tmp_path):
    workers: list[Worker] = []

    def start() -> Worker:
        worker = Worker(worker_env, tmp_path / f"worker-{len(workers)}.log").start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def indexed_demo(real_models, coco_subset_files, fresh_index_holder, own_storage):
    """Six demo photos indexed with the real models in this process, with a served FAISS build."""
    from indexing.catalog import ingest
    from indexing.models import Crop
    from indexing.pipeline import jobs
    from tests.factories import make_dataset

    dataset = make_dataset("demo")
    ingest.ingest_files(dataset, [(path, "") for path in coco_subset_files[:6]])
    job, ids = jobs.create_job(dataset)
    jobs.after_job(jobs.run_job(job, ids))
    assert Crop.objects.count() >= 6, "the demo photos gave too few crops to test with"
    return dataset
