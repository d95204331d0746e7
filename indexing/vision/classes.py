"""The product's classes as data: which of a detector's names it keeps, and how that marks its version.

DETECTOR_CLASSES names the labels crops get. For a checkpoint with fixed classes they are
matched by name against its own names (``all``: every one of them, e.g. the 80 COCO names of
the official weights); the set is part of the detector version, so changing it is a redetect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from indexing.vision.errors import ModelLoadError

# The product's first scope: a detector keeping exactly these has the version it had before
# class sets were settings, so collections made then need no redetect.
FIRST_SCOPE = frozenset({"person", "car", "cell phone", "laptop", "book", "handbag", "sports ball"})
ALL_CLASSES = "all"


def wanted_classes(wanted: Sequence[str], names: dict[int, str] | Sequence[str]) -> list[str]:
    """DETECTOR_CLASSES made concrete: ``all`` is every class the checkpoint names, in its order."""
    if [name.strip().lower() for name in wanted] == [ALL_CLASSES]:
        known = dict(names) if isinstance(names, dict) else dict(enumerate(names))
        return [str(known[class_id]) for class_id in sorted(known)]
    return list(wanted)


def classes_tag(labels: Sequence[str]) -> str:
    """The class set's part of the detector version: empty for the first scope, else its size and hash."""
    if frozenset(labels) == FIRST_SCOPE:
        return ""
    digest = hashlib.sha256("\n".join(sorted(labels)).encode()).hexdigest()[:8]
    return f"+classes{len(labels)}-{digest}"


def map_classes(wanted: Sequence[str], names: dict[int, str] | Sequence[str]) -> dict[int, str]:
    """Map the product's class names to the model's class ids, by name.

    By name rather than by id, so the 80-class COCO checkpoint and a fine-tuned
    checkpoint with only the product's classes both work unchanged.
    """
    known = dict(names) if isinstance(names, dict) else dict(enumerate(names))
    by_name = {str(name).strip().lower(): int(class_id) for class_id, name in known.items()}
    mapping: dict[int, str] = {}
    for label in wanted:
        class_id = by_name.get(label.strip().lower())
        if class_id is None:
            raise ModelLoadError(
                f"Detector class {label!r} (DETECTOR_CLASSES) is not one of the model's classes: "
                f"{', '.join(str(n) for n in known.values())}."
            )
        mapping[class_id] = label
    return mapping
