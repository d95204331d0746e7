"""What search serves now, as the API and /healthz report it: the served build and its recall."""

from __future__ import annotations

from indexing.ann.builds import latest_ready_build
from indexing.ann.recall.records import summary
from indexing.served_models import served_embedder_version


def served_summary() -> dict:
    """The recall summary (indexing.ann.recall.records) of the build search serves now."""
    return summary(latest_ready_build(version=served_embedder_version()))
