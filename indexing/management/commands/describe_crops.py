"""Describe the crops of existing collections with the configured describer (docs/descriptions.md).

Resumable: crops the describer's model already described are skipped, so a run stopped
part way is started again with the same command. Runs in this process (no worker needed).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.catalog.selectors import dataset_by_reference
from indexing.descriptions import runs
from indexing.models import Crop, Dataset, DescriptionRun


class Command(BaseCommand):
    help = (
        "Describe crops with the configured vision-language model (DESCRIPTIONS_BACKEND, DESCRIPTIONS_MODEL), "
        "skipping crops it already described."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", help="Only this dataset (its id, or name:version); default: every dataset.")
        parser.add_argument("--limit", type=int, help="Describe at most this many crops in this run.")

    def handle(self, *args, dataset: str | None = None, limit: int | None = None, **options) -> None:
        crops = Crop.objects.filter(image__dataset__status=Dataset.Status.ACTIVE)
        found = None
        if dataset:
            try:
                found = dataset_by_reference(dataset)
            except Dataset.DoesNotExist as exc:
                raise CommandError(f"No dataset {dataset!r}: give its id or name:version.") from exc
            crops = crops.filter(image__dataset=found)

        def progress(record: DescriptionRun) -> None:
            self.stdout.write(f"  {record.described}/{record.total} crops described")

        record = runs.run(crops, dataset=found, limit=limit, progress=progress)
        if record.status == DescriptionRun.Status.FAILED:
            raise CommandError(
                f"Description run {record.pk} failed after {record.described} crop(s): {record.error}. "
                "Run the command again to resume."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Described {record.described} crop(s) with {record.model} (run {record.pk}).")
        )
