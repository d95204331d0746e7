"""What every detector kind returns, and the class set's part of a detector version.

Shared by the YOLOv5 detector (indexing.vision.detector) and the open-vocabulary one
(indexing.vision.owlvit), which the detector factory chooses between.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Detection:
    label: str
    confidence: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in source pixels, clipped to the image


# The product's first scope: a detector keeping exactly these has the version it had before
# class sets were settings, so collections made then need no redetect.
FIRST_SCOPE = frozenset({"person", "car", "cell phone", "laptop", "book", "handbag", "sports ball"})
ALL_CLASSES = "all"


def classes_tag(labels: Sequence[str]) -> str:
    """The class set's part of the detector version: empty for the first scope, else its size and hash."""
    if frozenset(labels) == FIRST_SCOPE:
        return ""
    digest = hashlib.sha256("\n".join(sorted(labels)).encode()).hexdigest()[:8]
    return f"+classes{len(labels)}-{digest}"
