"""The one refusal every writer of a dataset shares: no new work for a dataset being deleted."""

from __future__ import annotations

from django.db import transaction

from indexing.models import Dataset
from indexing.queue import IndexingUnavailable


class DatasetDeleting(IndexingUnavailable):
    """Work asked for a dataset that is being deleted (or is gone): refused before anything changes.

    An IndexingUnavailable, so every entry point that reports one (admin, pages, commands)
    shows this reason too; the API answers it with 409.
    """


def refuse_if_deleting(dataset_id: int) -> None:
    """Refuse work for a dataset being deleted. In a transaction, its row stays locked until the
    caller commits: a deletion starting meanwhile waits, so it never misses the work queued here.
    """
    lock = Dataset.objects.select_for_update() if transaction.get_connection().in_atomic_block else Dataset.objects
    status = lock.filter(pk=dataset_id).values_list("status", flat=True).first()
    if status is None:
        raise DatasetDeleting(f"Dataset {dataset_id} has been deleted.")
    if status == Dataset.Status.DELETING:
        raise DatasetDeleting(f"Dataset {dataset_id} is being deleted: no indexing, retry or recompute for it.")
