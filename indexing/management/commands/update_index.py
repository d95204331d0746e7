"""Bring the search index up to date: add new crops to it, or (--rebuild) build it afresh."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from indexing.ann import builds


class Command(BaseCommand):
    help = (
        "Add the crops stored since the served FAISS build to it (no retraining), or build it from scratch "
        "when due (ANN_RETRAIN_SHARE, ANN_COMPACT_SHARE) or asked (--rebuild)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="Build from scratch: retrain, drop hidden crops.")
        parser.add_argument("--kind", help="FAISS factory string for a full build (default: the chooser's).")

    def handle(self, *args, rebuild: bool = False, kind: str | None = None, **options) -> None:
        build = builds.update_index(kind=kind, rebuild=rebuild)
        if build is None:
            self.stdout.write("The served index holds every active crop; nothing to add.")
            return
        how = f"update of build {build.parent_id}" if build.parent_id else "full build"
        self.stdout.write(
            self.style.SUCCESS(f"Index build {build.pk} ({how}): {build.kind} over {build.size} vectors.")
        )
