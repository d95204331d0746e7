"""Index a dataset's failed photos again (after their files or the models were fixed)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.catalog import selectors
from indexing.models import Dataset
from indexing.pipeline import recovery
from indexing.queue import IndexingUnavailable


class Command(BaseCommand):
    help = (
        "Put a dataset's failed photos back to pending and index them, in this process "
        "(or on the Celery workers with --queue); then update the FAISS index."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="The dataset's id or name:version.")
        parser.add_argument("--split", default=None, help="Only the failed photos of this split.")
        parser.add_argument("--queue", action="store_true", help="Queue the job for the Celery workers.")

    def handle(self, *args, dataset: str, split: str | None, queue: bool, **options) -> None:
        try:
            target = selectors.dataset_by_reference(dataset)
        except Dataset.DoesNotExist as exc:
            raise CommandError(f"There is no dataset {dataset!r}.") from exc
        try:
            if queue:
                job = recovery.retry_failed(dataset=target, split=split)
            else:
                job = recovery.retry_failed_here(dataset=target, split=split)
        except IndexingUnavailable as exc:
            raise CommandError(str(exc)) from exc
        if job is None:
            self.stdout.write(f"No failed photos in {target}.")
            return
        if queue:
            self.stdout.write(f"Queued job {job.pk} over {job.total_images} failed photo(s).")
            return
        self.stdout.write(
            f"Job {job.pk}: {job.processed_images - job.failed_images} of {job.total_images} photo(s) indexed, "
            f"{job.failed_images} failed again (see their error in the admin)."
        )
