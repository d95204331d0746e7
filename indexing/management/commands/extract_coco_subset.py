"""Extract the product's classes from a COCO dataset as a versioned YOLOv5 dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.catalog.coco import parse_split
from indexing.catalog.datasets import DatasetError, extract_coco_subset


class Command(BaseCommand):
    help = (
        "Keep the COCO images holding the product's classes, split them deterministically and write "
        "a YOLOv5 dataset version (images/, labels/, data.yaml, manifest.json), registered as a Dataset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--annotations", required=True, type=Path, help="COCO instances_*.json")
        parser.add_argument("--images", required=True, type=Path, help="Folder of the COCO images")
        parser.add_argument("--out", required=True, type=Path, help="e.g. datasets/coco_subset/version_1")
        parser.add_argument("--classes", nargs="+", help="COCO category names (default: DETECTOR_CLASSES)")
        parser.add_argument("--split", default="0.8,0.1,0.1", help="train,val,test fractions")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-images", "--max_images", dest="max_images", type=int)
        parser.add_argument("--copy", action="store_true", help="Copy images instead of symlinking them")
        parser.add_argument("--download", action="store_true", help="Fetch missing images from their coco_url")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            result = extract_coco_subset(
                annotations=opts["annotations"],
                images_dir=opts["images"],
                out_dir=opts["out"],
                classes=opts["classes"],
                split=parse_split(opts["split"]),
                seed=opts["seed"],
                max_images=opts["max_images"],
                copy=opts["copy"],
                download=opts["download"],
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Dataset {result.dataset}: {result.dataset.notes}"))
        self.stdout.write(f"data.yaml: {result.data_yaml}")
