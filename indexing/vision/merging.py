"""Merge the boxes of several views of one photo (indexing.vision.slicing) into one list.

Boxes of one class from different views that overlap (IoU >= merge_iou) are one
object. Its confidence is the mean over the views that could have found it (a view
that covers it and missed it counts 0), and its box the confidence-weighted mean of
the views' boxes (weighted box fusion). A box only one of two views sees is thus
halved: it survives only when that view is sure, and two half-sure views together
keep an object neither keeps alone. With single_confidence, a box one view alone
scores that high is kept too (what plain detection keeps, plus what the views agree on).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexing.vision.slicing import SlicingConfig, View, covers


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class _Cluster:
    def __init__(self, row: np.ndarray, view: int) -> None:
        self.label = int(row[5])
        self.best = row[:4].copy()  # the first (most confident) box: what others are compared with
        self.members: dict[int, np.ndarray] = {view: row}

    def fused_box(self) -> np.ndarray:
        rows = np.stack(list(self.members.values()))
        return (rows[:, :4] * rows[:, 4:5]).sum(axis=0) / rows[:, 4].sum()


def fuse(found: Sequence[tuple[View, np.ndarray]], config: SlicingConfig, max_detections: int) -> np.ndarray:
    """Rows x1, y1, x2, y2, confidence, class id of the merged objects, best first."""
    views = [view for view, _ in found]
    tagged = [(row, index) for index, (_, rows) in enumerate(found) for row in rows]
    tagged.sort(key=lambda item: -float(item[0][4]))
    clusters: list[_Cluster] = []
    for row, view in tagged:
        label = int(row[5])
        match = next(
            (
                c
                for c in clusters
                if c.label == label and view not in c.members and iou(c.best, row) >= config.merge_iou
            ),
            None,
        )
        if match is None:
            clusters.append(_Cluster(row, view))
        else:
            match.members[view] = row
    merged = []
    for cluster in clusters:
        box = cluster.fused_box()
        covering = sum(1 for index, view in enumerate(views) if index in cluster.members or covers(view, box, config))
        confidence = sum(float(r[4]) for r in cluster.members.values()) / max(covering, 1)
        best = max(float(r[4]) for r in cluster.members.values())
        if confidence >= config.confidence:
            merged.append([*box.tolist(), confidence, cluster.label])
        elif best >= config.single_confidence:  # one view sure enough on its own
            merged.append([*box.tolist(), best, cluster.label])
    merged.sort(key=lambda r: -r[4])
    return np.array(merged[:max_detections], dtype=np.float64).reshape(-1, 6)
