"""Delete a dataset with its photos, crops, files and index vectors (indexing.catalog.deletion)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from indexing.catalog import deletion, selectors
from indexing.models import Dataset


class Command(BaseCommand):
    help = (
        "Delete a dataset: its rows, its stored photos and crops, and its vectors in the served FAISS index. "
        "Its crops leave search at once. A deletion that stopped halfway finishes when run again (--resume)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", nargs="?", help="The dataset's id or name:version.")
        parser.add_argument("--resume", action="store_true", help="Finish every deletion that stopped halfway.")
        parser.add_argument("--batch-size", type=int, default=None, help="Photos per transaction.")

    def handle(self, *args, dataset: str | None, resume: bool, batch_size: int | None, **options) -> None:
        if resume:
            with tqdm(desc="delete", unit="img", disable=None) as bar:
                deleted = deletion.resume_deletions(progress=bar.update)
            self.stdout.write(f"Finished the interrupted deletions: {deleted} photo(s) deleted.")
            return
        if not dataset:
            raise CommandError("Name the dataset (id or name:version), or pass --resume.")
        try:
            target = selectors.dataset_by_reference(dataset)
        except Dataset.DoesNotExist as exc:
            raise CommandError(f"There is no dataset {dataset!r}.") from exc
        with tqdm(total=target.images.count(), desc="delete", unit="img", disable=None) as bar:
            deleted = deletion.run_deletion(dataset_id=target.pk, batch_size=batch_size, progress=bar.update)
        self.stdout.write(f"Dataset {target} deleted: {deleted} photo(s) with their crops, files and index vectors.")
