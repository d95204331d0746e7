"""Through a real Celery worker on Redis: the description task runs on the gpu queue after a batch,
and a dead endpoint fails that task's run alone while the job finishes and its crops are searchable."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexing.catalog.ingest import dataset_image_files, ingest_files
from indexing.models import Crop, DescriptionRun, IndexingJob
from indexing.pipeline.jobs import enqueue_dataset_indexing
from search.query import services
from tests.factories import make_dataset
from tests.vlm_stub import closed_port_url
from tests.workers import Worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("real_models")]


def test_a_dead_endpoint_fails_the_workers_description_run_and_nothing_else(
    worker_env, tmp_path: Path, coco_subset_files, settings
):
    url = closed_port_url()
    env = {
        **worker_env,
        "DESCRIPTIONS_ENABLED": "true",
        "DESCRIPTIONS_BACKEND": "openai",
        "DESCRIPTIONS_MODEL": "stub-vlm",
        "DESCRIPTIONS_API_URL": url,
    }
    settings.DESCRIPTIONS_ENABLED = True  # this process queues the task; the worker describes
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in coco_subset_files[:3]:
        shutil.copy(path, folder / path.name)
    dataset = make_dataset("described-by-worker")
    ingest_files(dataset, dataset_image_files(folder))
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        job = enqueue_dataset_indexing(dataset)

        def done() -> bool:
            job.refresh_from_db()
            return job.status == IndexingJob.Status.DONE

        wait_for(done, 300, "the indexing job", worker)
        failed = DescriptionRun.objects.filter(status=DescriptionRun.Status.FAILED)
        wait_for(failed.exists, 120, "the description run", worker)
    finally:
        worker.stop()
    assert job.error == "" and Crop.objects.filter(image__dataset=dataset).exists()
    assert f"{url}/chat/completions could not be reached" in failed.first().error
    assert services.search_text("a person", k=3)
