"""Run (or resume) a model change in this process: above the two kinds of change, which sit on the lifecycle."""

from __future__ import annotations

from collections.abc import Callable

from indexing.model_changes import redetect, reembed
from indexing.models import ModelChange


def run_change(*, change_id: int, progress: Callable[[ModelChange], None] | None = None) -> ModelChange:
    """Run (or resume) a change in this process: its kind's runner (the command, the Celery task)."""
    change = ModelChange.objects.get(pk=change_id)
    runner = reembed.run_reembed if change.kind == ModelChange.Kind.EMBEDDER else redetect.run_redetect
    return runner(change_id=change_id, progress=progress)
