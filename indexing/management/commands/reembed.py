"""Re-embed every crop with another CLIP; search switches to it only once every crop has its new vector."""

from __future__ import annotations

from django.core.management.base import CommandParser

from indexing.management.commands._model_change import ModelChangeCommand
from indexing.model_changes import reembed
from indexing.models import ModelChange


class Command(ModelChangeCommand):
    help = (
        "Re-embed every crop with --model (CLIP_MODEL by default) on a Celery worker (--here: in this process). "
        "Search keeps serving the current model's vectors until all crops have new ones, then switches at once. "
        "A run that stopped resumes with --resume."
    )
    kind = ModelChange.Kind.EMBEDDER
    model_option = "--model"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--model", help="CLIP hub id or save_pretrained folder (default: CLIP_MODEL).")

    def start(self, source: str | None) -> ModelChange:
        return reembed.start_reembed(model=source)
