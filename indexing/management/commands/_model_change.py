"""What the reembed and redetect commands share: start or resume a change, then run it here or on the workers."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.model_changes import lifecycle as model_changes
from indexing.model_changes import runner
from indexing.models import ModelChange
from indexing.queue import IndexingUnavailable
from indexing.vision.errors import ModelLoadError


class ModelChangeCommand(BaseCommand):
    kind: str
    model_option: str  # --model, --weights

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--resume", action="store_true", help="Resume the open change (stale or failed) where it stopped."
        )
        parser.add_argument("--here", action="store_true", help="Run in this process, not on a Celery worker.")
        parser.add_argument("--status", action="store_true", help="Show the newest changes and stop.")

    def start(self, source: str | None) -> ModelChange:
        raise NotImplementedError

    def handle(self, *args, resume: bool, here: bool, status: bool, **options) -> None:
        if status:
            for change in model_changes.recent_changes():
                self.stdout.write(describe(change))
            return
        try:
            if resume:
                change = model_changes.resume_open_change(kind=self.kind)
            else:
                change = self.start(options.get(self.model_option.lstrip("-")))
            if not here:
                model_changes.queue_change(change)
                self.stdout.write(f"Queued: {describe(change)}")
                return
            self.stdout.write(f"Running here: {describe(change)}")
            change = runner.run_change(change_id=change.pk, progress=self.progress)
        except (model_changes.ChangeRefused, ModelLoadError, IndexingUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(describe(change))

    def progress(self, change: ModelChange) -> None:
        self.stdout.write(f"  {change.processed}/{change.total}")


def describe(change: ModelChange) -> str:
    text = f"{change.kind} change {change.pk} to {change.version}: {change.status}, {change.processed}/{change.total}"
    return f"{text} ({change.error})" if change.error else text
