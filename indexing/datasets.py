"""Dataset versions on disk: extract a product-class subset of a COCO dataset in YOLOv5 layout.

Shared by the ``extract_coco_subset`` management command and any task that
needs a dataset version; the command is a thin adapter over
:func:`extract_coco_subset`.

A version directory is immutable once written: it is assembled in a hidden
sibling directory and renamed into place, so a crash never leaves a
half-written version that a later training run could pick up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction

from indexing.dataset_sources import DatasetError, check_file_name, download_images, image_path
from indexing.models import Dataset

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class SubsetResult:
    out_dir: Path
    data_yaml: Path
    manifest: dict[str, Any]
    dataset: Dataset | None


# --- selection ------------------------------------------------------------------


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


def missing_images(images: Iterable[CocoImage], images_dir: Path) -> list[CocoImage]:
    return [img for img in images if not image_path(images_dir, img.file_name).is_file()]


def place_image(src: Path, dest: Path, copy: bool) -> None:
    if copy:
        shutil.copy2(src, dest)
    else:
        dest.symlink_to(src.resolve())


# --- writing --------------------------------------------------------------------


def write_split(tmp_dir: Path, split: str, images: Sequence[CocoImage], images_dir: Path, copy: bool) -> Counter[int]:
    image_out, label_out = tmp_dir / "images" / split, tmp_dir / "labels" / split
    image_out.mkdir(parents=True)
    label_out.mkdir(parents=True)
    per_class: Counter[int] = Counter()
    for img in images:
        place_image(image_path(images_dir, img.file_name), image_out / Path(img.file_name).name, copy)
        stem = Path(img.file_name).stem
        (label_out / f"{stem}.txt").write_text("\n".join(b.label_line() for b in img.boxes) + "\n")
        per_class.update(b.class_id for b in img.boxes)
    return per_class


def data_yaml_text(out_dir: Path, classes: Sequence[str]) -> str:
    # Absolute ``path``: YOLOv5 resolves a relative one against its own package directory.
    data = {
        "path": str(out_dir.resolve()),
        "train": "images/train",
        "val": "images/val",
        "test": "images/test",
        "nc": len(classes),
        "names": {i: name for i, name in enumerate(classes)},
    }
    return yaml.safe_dump(data, sort_keys=False)


def build_manifest(
    annotations: Path,
    images_dir: Path,
    classes: Sequence[str],
    fractions: Sequence[float],
    seed: int,
    max_images: int | None,
    splits: dict[str, list[CocoImage]],
    class_counts: dict[str, Counter[int]],
    skipped: Counter[str],
) -> dict[str, Any]:
    per_split = {
        split: {
            "images": len(images),
            "boxes": sum(class_counts[split].values()),
            "boxes_per_class": {name: class_counts[split][i] for i, name in enumerate(classes)},
        }
        for split, images in splits.items()
    }
    return {
        "source": str(annotations.resolve()),
        "images_dir": str(images_dir.resolve()),
        "seed": seed,
        "classes": list(classes),
        "split": dict(zip(SPLITS, fractions, strict=True)),
        "max_images": max_images,
        "counts": {
            "images": sum(len(v) for v in splits.values()),
            "per_split": per_split,
            "per_class": {name: sum(class_counts[s][i] for s in SPLITS) for i, name in enumerate(classes)},
            "skipped_annotations": dict(skipped),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def summary(manifest: dict[str, Any]) -> str:
    counts = manifest["counts"]
    splits = ", ".join(f"{s} {c['images']}" for s, c in counts["per_split"].items())
    classes = ", ".join(f"{name} {n}" for name, n in counts["per_class"].items())
    return f"{counts['images']} images ({splits}); boxes: {classes}; seed {manifest['seed']}"


def register_dataset(out_dir: Path, annotations: Path, manifest: dict[str, Any]) -> Dataset:
    return Dataset.objects.create(
        name=out_dir.parent.name,
        version=out_dir.name,
        source=str(annotations.resolve()),
        split_names=list(SPLITS),
        root_path=str(out_dir.resolve()),
        notes=summary(manifest),
    )


# --- entry point ------------------------------------------------------------------


def extract_coco_subset(
    annotations: Path,
    images_dir: Path,
    out_dir: Path,
    classes: Sequence[str] | None = None,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    max_images: int | None = None,
    copy: bool = False,
    download: bool = False,
    register: bool = True,
) -> SubsetResult:
    """Write a YOLOv5 dataset version of the images holding ``classes`` (default: the product's classes)."""
    classes = list(classes or settings.DETECTOR_CLASSES)
    annotations, images_dir, out_dir = Path(annotations), Path(images_dir), Path(out_dir)
    check_target_free(out_dir, register)
    selected, skipped = select_images(load_coco(annotations), classes)
    if not selected:
        raise DatasetError(f"No image in {annotations} holds a non-crowd box of {', '.join(classes)}")
    ids = split_image_ids(selected, split, seed, max_images)
    splits = {name: [selected[i] for i in ids[name]] for name in SPLITS}
    ensure_images(list(selected[i] for name in SPLITS for i in ids[name]), images_dir, download)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        counts = {name: write_split(tmp_dir, name, splits[name], images_dir, copy) for name in SPLITS}
        manifest = build_manifest(annotations, images_dir, classes, split, seed, max_images, splits, counts, skipped)
        (tmp_dir / "data.yaml").write_text(data_yaml_text(out_dir, classes))
        (tmp_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        # The row and the folder appear together: a failed rename rolls the row back.
        with transaction.atomic() if register else contextlib.nullcontext():
            dataset = register_dataset(out_dir, annotations, manifest) if register else None
            tmp_dir.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    logger.info("Wrote %s: %s", out_dir, summary(manifest))
    return SubsetResult(out_dir=out_dir, data_yaml=out_dir / "data.yaml", manifest=manifest, dataset=dataset)


def check_target_free(out_dir: Path, register: bool) -> None:
    # Versions are immutable: a training run records the version name, so rewriting it would lie.
    if out_dir.exists():
        raise DatasetError(f"{out_dir} already exists; dataset versions are never overwritten, pick a new version")
    if register and Dataset.objects.filter(name=out_dir.parent.name, version=out_dir.name).exists():
        raise DatasetError(f"Dataset {out_dir.parent.name}:{out_dir.name} is already registered")


def ensure_images(images: list[CocoImage], images_dir: Path, download: bool) -> None:
    missing = missing_images(images, images_dir)
    if not missing:
        return
    if not download:
        examples = ", ".join(img.file_name for img in missing[:3])
        raise DatasetError(
            f"{len(missing)} of {len(images)} images are missing from {images_dir} (e.g. {examples}); "
            "pass --download to fetch them from their coco_url"
        )
    logger.info("Downloading %d missing images into %s", len(missing), images_dir)
    download_images(missing, images_dir)
