"""Deleting a dataset: its rows, its stored photos and crops, and its vectors in the served index.

The order keeps every record consistent if the work stops halfway (a killed worker, a
^C), and running it again finishes it:

1. ``mark_for_deletion``: the dataset is ``deleting``, which search filters out at once
   (it re-checks every candidate's row; search.query.results.active_crops), and its pending
   photos failed (a running indexing job skips them). Its crops are not deactivated one
   by one: an update per crop is slow at scale (bench/lifecycle.py).
2. Batches of photos: their rows (crops cascade) go in one transaction, then their
   files, once that transaction (or the caller's, around it) has committed. A crash or
   a rollback in between leaves files without rows, never rows without files. Duplicate
   groups that kept one of the photos show their other copies again and reopen.
3. ``finish``: whatever is left under the dataset's own prefixes (``images/<id>/``,
   ``crops/<id>/``) is swept, the dataset row goes (its jobs cascade), and the served
   FAISS build is replaced by one without its vectors (``refresh_served_index``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from indexing import queue
from indexing.ann import builds
from indexing.catalog.stored_files import delete_files, walk_files
from indexing.duplicates import groups as duplicate_groups
from indexing.models import Crop, Dataset, IndexBuild, IndexingJob, SourceImage
from indexing.pipeline import jobs
from indexing.served_models import served_embedder_version

logger = logging.getLogger(__name__)

DELETED_REASON = "The dataset is being deleted."


def request_deletion(*, dataset: Dataset) -> bool:
    """Delete a dataset (page, admin, API): at once when small, else by a Celery job; True if done now.

    A dataset of more than DATASET_DELETE_INLINE_MAX photos is hidden from search here
    and deleted batch by batch on a worker, its progress on the datasets page.
    """
    photos = dataset.images.count()
    on_a_worker = photos > settings.DATASET_DELETE_INLINE_MAX
    if on_a_worker:
        queue.require_workers()  # refuse before anything changes
    mark_for_deletion(dataset)
    if on_a_worker:
        queue.send_on_commit(queue.DELETE_DATASET, dataset.pk)
        return False
    run_deletion(dataset_id=dataset.pk, queue_rebuild=True)
    return True


def mark_for_deletion(dataset: Dataset) -> None:
    """Step 1: hide the dataset from search and stop its indexing; idempotent."""
    with transaction.atomic():
        first_time = Dataset.objects.filter(pk=dataset.pk).exclude(status=Dataset.Status.DELETING)
        first_time.update(status=Dataset.Status.DELETING, deletion_total=dataset.images.count())
        dataset.images.filter(status=SourceImage.Status.PENDING).update(
            status=SourceImage.Status.FAILED, error=DELETED_REASON
        )
        dataset.jobs.filter(
            status__in=[IndexingJob.Status.QUEUED, IndexingJob.Status.RUNNING, IndexingJob.Status.STALE]
        ).update(status=IndexingJob.Status.FAILED, error=DELETED_REASON)
    dataset.status = Dataset.Status.DELETING


def run_deletion(
    *,
    dataset_id: int,
    batch_size: int | None = None,
    queue_rebuild: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Steps 1 to 3 for one dataset (also a deletion that stopped halfway); how many photos went.

    ``progress(n)`` after each batch of ``n`` photos. ``queue_rebuild`` leaves the new
    FAISS build to a worker when there is one (a web request should not build it).
    """
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        return 0  # already deleted: a redelivered task
    mark_for_deletion(dataset)
    size = batch_size or settings.DATASET_DELETE_BATCH_SIZE
    deleted = 0
    while ids := list(dataset.images.order_by("id").values_list("id", flat=True)[:size]):
        delete_images(ids)
        deleted += len(ids)
        if progress is not None:
            progress(len(ids))
    finish(dataset, queue_rebuild=queue_rebuild)
    logger.info("Dataset %s deleted: %d photos", dataset, deleted)
    return deleted


def delete_images(image_ids: list[int]) -> None:
    """Step 2 for one batch: rows first (crops cascade), in one transaction, then their files.

    Duplicate groups that kept one of these photos show their other copies again and
    reopen (duplicate_groups.release_kept), in the same transaction.
    """
    crops = Crop.objects.filter(image_id__in=image_ids)
    names = list(crops.exclude(file="").values_list("file", flat=True))
    names += list(SourceImage.objects.filter(pk__in=image_ids).values_list("file", flat=True))
    nested = in_callers_transaction()
    with transaction.atomic():
        duplicate_groups.release_kept(image_ids=image_ids)
        crops.delete()
        SourceImage.objects.filter(pk__in=image_ids).delete()
        # A lambda, not a partial: a robust callback's failure is logged under its __qualname__.
        transaction.on_commit(lambda: delete_files(default_storage, names), robust=nested)


def finish(dataset: Dataset, *, queue_rebuild: bool = False) -> None:
    """Step 3: sweep the dataset's prefixes, delete its row, drop its vectors from the served index.

    On its own the sweep runs first (at once), so a crash before the row goes is resumed;
    in a caller's transaction it waits for the commit, like every file deletion here.
    """
    transaction.on_commit(lambda: sweep(dataset.pk), robust=in_callers_transaction())
    Dataset.objects.filter(pk=dataset.pk).delete()
    refresh_served_index(queue=queue_rebuild)


def sweep(dataset_id: int) -> None:
    """Whatever is left under the dataset's prefixes: files of a batch whose deletion stopped halfway."""
    for prefix in dataset_prefixes(dataset_id):
        delete_files(default_storage, list(walk_files(default_storage, prefix)))


def in_callers_transaction() -> bool:
    """Whether the deletion runs inside a caller's transaction (the admin's delete page opens one).

    Files go only once their rows' deletion commits (``transaction.on_commit``): a rollback
    brings rows back with their files, never without. Inside a caller's transaction a failed
    file deletion is logged, not raised: the rows are gone for good by then, and what is left
    is a file without a row (``check_consistency`` lists it, the dataset's sweep takes it). On
    its own (a worker, the command) the failure raises, and the task is retried.
    """
    return transaction.get_connection().in_atomic_block


def dataset_prefixes(dataset_id: int) -> list[str]:
    """Where a dataset's files live (indexing.models.source_image_path and crop_file_name)."""
    return [f"images/{dataset_id}", f"crops/{dataset_id}"]


def refresh_served_index(*, queue: bool = False) -> IndexBuild | None:
    """A served FAISS build with vectors of deleted crops is replaced by a full rebuild over the active ones.

    The one place deletion touches the index: a compaction can take its place later.
    Nothing to do when no build is served (search reads pgvector then).
    """
    if builds.latest_ready_build(version=served_embedder_version()) is None:
        return None
    if queue and (settings.CELERY_TASK_ALWAYS_EAGER or settings.CELERY_BROKER_URL):
        jobs.queue_index_update(rebuild=True)
        return None
    return builds.update_index(rebuild=True)


def resume_deletions(*, progress: Callable[[int], None] | None = None) -> int:
    """Finish every deletion that stopped halfway (the ``delete_dataset --resume`` command)."""
    pending = Dataset.objects.filter(status=Dataset.Status.DELETING).values_list("pk", flat=True)
    return sum(run_deletion(dataset_id=pk, progress=progress) for pk in list(pending))


def deletion_progress(dataset: Dataset) -> tuple[int, int]:
    """(photos deleted, photos it had) of a dataset being deleted."""
    return dataset.deletion_total - dataset.images.count(), dataset.deletion_total
