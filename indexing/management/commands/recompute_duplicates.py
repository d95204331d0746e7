"""Match a dataset's photos again and rebuild their duplicate groups (decisions are kept)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.catalog.guards import DatasetDeleting
from indexing.duplicates import groups as duplicate_groups
from indexing.models import Dataset


class Command(BaseCommand):
    help = (
        "Recompute the duplicate groups of a dataset's photos: fingerprints missing ones, drops their open "
        "memberships and matches them again. Resolved groups and 'not duplicates' decisions are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="The dataset's id, or name:version")

    def handle(self, *args, dataset: str, **options) -> None:
        found = self._dataset(dataset)
        try:
            linked = duplicate_groups.recompute_dataset(dataset_id=found.pk)
        except DatasetDeleting as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{found}: {linked} photo(s) are in a duplicate group."))

    @staticmethod
    def _dataset(value: str) -> Dataset:
        name, _, version = value.partition(":")
        query = Dataset.objects.filter(pk=int(value)) if value.isdigit() else Dataset.objects.filter(name=name)
        if version:
            query = query.filter(version=version)
        matches = list(query[:2])
        if len(matches) != 1:
            raise CommandError(f"No single dataset {value!r}: give its id or name:version.")
        return matches[0]
