"""Detect every indexed photo again with new weights; each photo's crops are replaced in one transaction."""

from __future__ import annotations

from django.core.management.base import CommandParser

from indexing.management.commands._model_change import ModelChangeCommand
from indexing.model_changes import redetect
from indexing.models import ModelChange


class Command(ModelChangeCommand):
    help = (
        "Detect every indexed photo again with --weights (the configured detector weights by default) on a Celery "
        "worker (--here: in this process), and replace each photo's crops. A run that stopped resumes with --resume."
    )
    kind = ModelChange.Kind.DETECTOR
    model_option = "--weights"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--weights",
            help="Weights file, official name, runs:/ URI, or an OWL-ViT/OWLv2 model (open vocabulary; "
            "default: configured).",
        )

    def start(self, source: str | None) -> ModelChange:
        return redetect.start_redetect(weights=source)
