"""Report storage files without rows, rows without files, and index ids out of step with the crops."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from indexing.catalog.consistency import check_consistency

SHOWN = 20  # names listed per problem; the count is always complete


class Command(BaseCommand):
    help = (
        "Check that stored files, rows and the served FAISS build agree. Exits 1 when anything is wrong: "
        "a file no row names, a row whose file is missing, an index id with no crop, an active crop "
        "neither in the index nor newer than it, a crop of another CLIP than the served one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--show", type=int, default=SHOWN, help="Names listed per problem.")

    def handle(self, *args, show: int, **options) -> None:
        report = check_consistency()
        problems = {
            "storage files without a row": report.files_without_rows,
            "rows whose file is missing": report.rows_without_files,
            "index ids without a crop": report.index_ids_without_crop,
            "active crops missing from the index and its tail": report.active_crops_missing_from_index,
        }
        for what, items in problems.items():
            if items:
                listed = ", ".join(str(item) for item in items[:show])
                more = f" (and {len(items) - show} more)" if len(items) > show else ""
                self.stderr.write(f"{len(items)} {what}: {listed}{more}")
        if report.crops_of_other_embedders:
            self.stderr.write(
                f"{report.crops_of_other_embedders} crops made by another CLIP than the served one, never searched: "
                "re-embed them (manage.py reembed)."
            )
        build = f"index build {report.build_id}" if report.build_id else "no index build served"
        self.stdout.write(
            f"Checked media, index files and {build}; {report.awaiting_compaction} inactive crop(s) await compaction."
        )
        if not report.ok:
            self.stderr.write("Inconsistent: see above.")
            raise SystemExit(1)
        self.stdout.write("Consistent.")
