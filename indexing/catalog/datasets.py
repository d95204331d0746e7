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
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction

from indexing.catalog.coco import (
    SPLITS,
    CocoImage,
    load_coco,
    select_images,
    split_image_ids,
)
from indexing.catalog.sources import DatasetError, download_images, image_path
from indexing.models import Dataset
from indexing.vision.classes import ALL_CLASSES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubsetResult:
    out_dir: Path
    data_yaml: Path
    manifest: dict[str, Any]
    dataset: Dataset | None


# --- selection ------------------------------------------------------------------


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


def subset_classes(coco: dict, classes: Sequence[str]) -> list[str]:
    """The classes a subset keeps: ``all`` is every category of the annotations, in category id order."""
    if [name.strip().lower() for name in classes] == [ALL_CLASSES]:
        return [c["name"] for c in sorted(coco.get("categories", []), key=lambda c: c["id"])]
    return list(classes)


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
    annotations, images_dir, out_dir = Path(annotations), Path(images_dir), Path(out_dir)
    check_target_free(out_dir, register)
    coco = load_coco(annotations)
    classes = subset_classes(coco, classes or settings.DETECTOR_CLASSES)
    selected, skipped = select_images(coco, classes)
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
