"""Describe the crops of existing collections with the configured describer (docs/descriptions.md).

Resumable: crops the describer's model already described are skipped, so a run stopped
part way is started again with the same command. Runs in this process (no worker needed).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.catalog.selectors import dataset_by_reference
from indexing.descriptions.existing import describe_existing
from indexing.models import Dataset, DescriptionRun
from indexing.vision.describe import DescriberError


class Command(BaseCommand):
    help = (
        "Describe crops with the configured vision-language model (DESCRIPTIONS_BACKEND, DESCRIPTIONS_MODEL), "
        "skipping crops it already described and datasets a worker is describing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", help="Only this dataset (its id, or name:version); default: every dataset.")
        parser.add_argument("--limit", type=int, help="Describe at most this many crops in this run.")

    def handle(self, *args, dataset: str | None = None, limit: int | None = None, **options) -> None:
        datasets = Dataset.objects.all()
        if dataset:
            try:
                datasets = datasets.filter(pk=dataset_by_reference(dataset).pk)
            except Dataset.DoesNotExist as exc:
                raise CommandError(f"No dataset {dataset!r}: give its id or name:version.") from exc

        def progress(record: DescriptionRun) -> None:
            self.stdout.write(f"  {record.dataset}: {record.described}/{record.total} crops described")

        try:
            done = describe_existing(datasets, limit=limit, progress=progress)
        except DescriberError as exc:
            raise CommandError(f"No crop described: {exc}") from exc
        for busy in done.busy:
            self.stderr.write(
                f"Dataset {busy} is being described by a worker's run right now: skipped. "
                "Run the command again once that run is done to describe what it leaves."
            )
        failed = done.failed
        if failed is not None:
            raise CommandError(
                f"Description run {failed.pk} of {failed.dataset} failed after {failed.described} crop(s): "
                f"{failed.error}. Run the command again to resume."
            )
        runs = ", ".join(str(record.pk) for record in done.runs) or "none needed"
        self.stdout.write(self.style.SUCCESS(f"Described {done.described} crop(s) with {done.model} (runs: {runs})."))
