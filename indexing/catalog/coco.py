"""A COCO instances file read for the product's classes: images, YOLO boxes, splits.

Pure data work, no files written: indexing/catalog/datasets.py turns the result into a
dataset version on disk.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexing.catalog.sources import DatasetError, check_file_name

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Box:
    class_id: int
    cx: float
    cy: float
    w: float
    h: float

    def label_line(self) -> str:
        return f"{self.class_id} {self.cx:.6f} {self.cy:.6f} {self.w:.6f} {self.h:.6f}"


@dataclass
class CocoImage:
    id: int
    file_name: str
    width: int
    height: int
    coco_url: str = ""
    boxes: list[Box] = field(default_factory=list)


def load_coco(annotations: Path) -> dict[str, Any]:
    try:
        with open(annotations, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as exc:
        raise DatasetError(f"Annotation file not found: {annotations}") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"Annotation file is not valid JSON: {annotations}: {exc}") from exc


def category_ids_by_name(coco: dict[str, Any], classes: Sequence[str]) -> dict[int, int]:
    """Map COCO category id -> subset class id (index in ``classes``); unknown names are an error."""
    by_name = {c["name"]: c["id"] for c in coco.get("categories", [])}
    missing = [name for name in classes if name not in by_name]
    if missing:
        raise DatasetError(f"Classes not in the annotation file's categories: {', '.join(missing)}")
    return {by_name[name]: index for index, name in enumerate(classes)}


def to_yolo_box(bbox: Sequence[float], width: int, height: int, class_id: int) -> Box | None:
    """COCO [x, y, w, h] in pixels -> normalized centre box, clipped to the image; None when degenerate."""
    x, y, w, h = bbox
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = min(float(width), x + w), min(float(height), y + h)
    if x2 <= x1 or y2 <= y1:
        return None
    return Box(class_id, (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height)


def select_images(coco: dict[str, Any], classes: Sequence[str]) -> tuple[dict[int, CocoImage], Counter[str]]:
    """Images holding at least one non-crowd box of ``classes``, with those boxes; plus skip counts.

    A file_name that would leave the images folder refuses the whole file (see check_file_name).
    """
    class_of = category_ids_by_name(coco, classes)
    images = {
        img["id"]: CocoImage(
            img["id"], check_file_name(img["file_name"]), img["width"], img["height"], img.get("coco_url", "")
        )
        for img in coco.get("images", [])
    }
    skipped: Counter[str] = Counter()
    for ann in coco.get("annotations", []):
        class_id = class_of.get(ann["category_id"])
        if class_id is None:
            continue
        # Crowd regions cover many objects with one box: not a single product instance.
        if ann.get("iscrowd", 0):
            skipped["crowd"] += 1
            continue
        image = images.get(ann["image_id"])
        if image is None:
            skipped["no_image"] += 1
            continue
        box = to_yolo_box(ann["bbox"], image.width, image.height, class_id)
        if box is None:
            skipped["degenerate"] += 1
            continue
        image.boxes.append(box)
    return {i: img for i, img in images.items() if img.boxes}, skipped


def split_image_ids(
    ids: Iterable[int], fractions: Sequence[float], seed: int, max_images: int | None = None
) -> dict[str, list[int]]:
    """Deterministic split: shuffle the sorted ids with ``seed``, cap, cut by fractions (test takes the rest)."""
    ordered = sorted(ids)
    random.Random(seed).shuffle(ordered)
    if max_images is not None:
        ordered = ordered[:max_images]
    n = len(ordered)
    n_train = round(n * fractions[0])
    # With no test fraction, rounding leftovers go to val rather than being dropped.
    n_val = min(round(n * fractions[1]), n - n_train) if fractions[2] > 0 else n - n_train
    cuts = {"train": ordered[:n_train], "val": ordered[n_train : n_train + n_val], "test": ordered[n_train + n_val :]}
    return {name: sorted(ids_) for name, ids_ in cuts.items()}


def parse_split(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError as exc:
        raise DatasetError(f"--split must be three comma-separated numbers, got {text!r}") from exc
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise DatasetError(f"--split must be three non-negative fractions summing to 1, got {text!r}")
    return parts  # type: ignore[return-value]


# --- images ---------------------------------------------------------------------
