"""What every detector kind returns.

Shared by the YOLOv5 detector (indexing.vision.detector) and the open-vocabulary one
(indexing.vision.owlvit), which the detector factory chooses between.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Detection:
    label: str
    confidence: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in source pixels, clipped to the image
