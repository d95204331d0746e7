"""Fixtures for indexing: real models, a COCO128-derived dataset folder, a Celery worker."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.workers import REDIS_URL, Worker, test_database_url
from visualsearch.celery import app as celery_app

# COCO128 images holding objects of the product's classes, and few enough to index in seconds.
SUBSET_SIZE = 12


@pytest.fixture(scope="session")
def coco_subset_files(coco128_dir: Path) -> list[Path]:
    """The first COCO128 images whose labels include one of the product's classes."""
    import yaml

    names = yaml.safe_load((coco128_dir / "data.yaml").read_text())["names"]
    names = names if isinstance(names, list) else [names[i] for i in sorted(names)]
    wanted = {i for i, name in enumerate(names) if name in settings.DETECTOR_CLASSES}
    chosen = []
    for label_file in sorted((coco128_dir / "labels" / "train2017").glob("*.txt")):
        ids = {int(line.split()[0]) for line in label_file.read_text().splitlines() if line.strip()}
        if ids & wanted:
            chosen.append(coco128_dir / "images" / "train2017" / f"{label_file.stem}.jpg")
        if len(chosen) == SUBSET_SIZE:
            return chosen
    raise AssertionError("COCO128 has fewer images of the product's classes than expected")


@pytest.fixture
def dataset_folder(tmp_path: Path, coco_subset_files: list[Path]) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in coco_subset_files:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def test_clip_dir(tmp_path_factory) -> Path:
    from django.core.management import call_command

    path = tmp_path_factory.mktemp("clip") / "test-clip"
    call_command("make_test_clip", str(path))
    return path


@pytest.fixture
def real_models(settings, yolov5n_weights: Path, test_clip_dir: Path):
    """Point the settings at the real yolov5n.pt and the test CLIP, in this process."""
    from indexing.vision.detector import reset_detector
    from indexing.vision.embedder import reset_embedder

    settings.DETECTOR_WEIGHTS = str(yolov5n_weights)
    settings.CLIP_MODEL = str(test_clip_dir)
    reset_detector()
    reset_embedder()
    yield
    reset_detector()
    reset_embedder()


@pytest.fixture
def broker():
    """The local Redis as Celery broker, on a database of its own, emptied first."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); `make test` starts one.")
    client.flushdb()
    saved = dict(celery_app.conf)
    celery_app.conf.update(broker_url=REDIS_URL, task_always_eager=False)
    celery_app._pool = None
    yield REDIS_URL
    celery_app.conf.update(broker_url=saved.get("broker_url"), task_always_eager=saved.get("task_always_eager"))
    celery_app._pool = None
    client.flushdb()


@pytest.fixture
def worker_env(broker, media_root, yolov5n_weights, test_clip_dir, transactional_db) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": broker,
        "MEDIA_ROOT": str(media_root),
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
