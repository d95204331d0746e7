"""COCO128 ground truth and the product's detection metrics (for bench/detection.py).

An object counts when the crop policy would keep its labelled box ("eligible"): the
product can only ever index those. A kept detection (one the policy keeps too) is
correct when it overlaps an unmatched labelled box of its class at IoU >= 0.5,
greedily, most confident first. A detection of an object the policy would not keep
(a labelled box just under the size limits) is correct but is left out of mAP50,
which counts eligible objects only. mAP50 uses yolov5's ap_per_class, as its val does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from indexing.vision.crops import CropPolicy, crop_box
from indexing.vision.detector import Detection
from indexing.vision.merging import iou
from indexing.vision.yolov5_env import prepare_yolov5


@dataclass(frozen=True)
class Truth:
    label: str
    box: tuple[float, float, float, float]
    eligible: bool


def load_truth(coco128: Path, labels: Sequence[str], sizes: dict[str, tuple[int, int]], policy: CropPolicy):
    """Each photo's labelled boxes of the product's classes, in pixels, from the YOLO label files."""
    names = yaml.safe_load((coco128 / "data.yaml").read_text())["names"]
    wanted = {int(k): v for k, v in names.items() if v in labels}
    truth: dict[str, list[Truth]] = {}
    for stem, (width, height) in sizes.items():
        file = coco128 / "labels" / "train2017" / f"{stem}.txt"
        rows = [line.split() for line in file.read_text().splitlines()] if file.is_file() else []
        boxes = []
        for class_id, cx, cy, w, h in ((int(r[0]), *map(float, r[1:5])) for r in rows if r):
            if class_id in wanted:
                box = ((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
                boxes.append(Truth(wanted[class_id], box, crop_box(box, (width, height), policy) is not None))
        truth[stem] = boxes
    return truth


@dataclass
class Tally:
    eligible: int = 0  # labelled eligible objects
    found: int = 0  # of them, matched by a kept detection
    kept: int = 0  # kept detections
    correct: int = 0  # of them, matching a labelled box
    # for mAP50: (confidence, true positive) of kept detections, eligible-object matches and misses only
    scored: list[tuple[float, bool]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.eligible if self.eligible else float("nan")

    @property
    def precision(self) -> float:
        return self.correct / self.kept if self.kept else float("nan")


def score(
    predictions: dict[str, list[Detection]],
    truth: dict[str, list[Truth]],
    sizes: dict[str, tuple[int, int]],
    policy: CropPolicy,
) -> dict[str, Tally]:
    """Tallies per label for the photos in ``predictions``."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for stem, found in predictions.items():
        labelled = truth[stem]
        for t in labelled:
            tallies[t.label].eligible += t.eligible
        kept = [d for d in found if crop_box(d.box, sizes[stem], policy) is not None]
        matched: set[int] = set()
        for detection in sorted(kept, key=lambda d: -d.confidence):
            best, best_iou = None, 0.5
            for index, t in enumerate(labelled):
                if t.label == detection.label and index not in matched and (o := iou(t.box, detection.box)) >= best_iou:
                    best, best_iou = index, o
            tally = tallies[detection.label]
            tally.kept += 1
            if best is not None:
                matched.add(best)
                tally.correct += 1
                tally.found += labelled[best].eligible
                if labelled[best].eligible:
                    tally.scored.append((detection.confidence, True))
            else:
                tally.scored.append((detection.confidence, False))
    return tallies


def overall(tallies: dict[str, Tally]) -> Tally:
    total = Tally()
    for t in tallies.values():
        total.eligible += t.eligible
        total.found += t.found
        total.kept += t.kept
        total.correct += t.correct
    return total


def map50(tallies: dict[str, Tally], labels: Sequence[str]) -> float:
    """Mean AP50 over the labels with eligible objects, by yolov5's ap_per_class."""
    from yolov5.utils.metrics import ap_per_class

    prepare_yolov5()  # numpy 2 compatibility of its AP integration
    rows = [(conf, ok, i) for i, label in enumerate(labels) for conf, ok in tallies[label].scored]
    targets = np.array([i for i, label in enumerate(labels) for _ in range(tallies[label].eligible)])
    if not rows or not len(targets):
        return float("nan")
    conf, tp, cls = (np.array(column) for column in zip(*rows, strict=True))
    ap = ap_per_class(tp.reshape(-1, 1).astype(float), conf, cls, targets, names={})[5]  # (tp, fp, p, r, f1, ap, ..)
    return float(ap[:, 0].mean())  # one row per label with eligible objects
