"""The official YOLOv5 checkpoints: where they come from.

A checkpoint is a pickle: loading one runs whatever code it carries. Official names
(``yolov5s.pt``) are downloaded from the YOLOv5 v7.0 release and kept only when their
sha256 is the one listed in ``indexing.vision.weights.checksums.OFFICIAL_SHA256``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from indexing.vision.weights.checksums import OFFICIAL_SHA256, WeightsError, official_checksum
from indexing.vision.weights.downloads import stream_to_file

logger = logging.getLogger(__name__)

RELEASE = "v7.0"
RELEASE_URL = f"https://github.com/ultralytics/yolov5/releases/download/{RELEASE}/"


def download_official(name: str, target: Path, *, required: bool) -> Path:
    """Download the official checkpoint ``name`` to ``target``, kept only if its sha256 is listed.

    A name with no listed checksum is refused when ``required`` (verified weights are,
    see ``checksums.verify``): downloading it would be wasted.
    The file streams into ``<target>.part`` and is renamed into place after the check,
    so an unverified or partial file never sits where the loader looks.
    """
    expected = official_checksum(name)
    if not expected and required:
        raise WeightsError(
            f"Detector weights {name!r}: no known checksum for that name (known: {', '.join(OFFICIAL_SHA256)}), "
            "so it is not downloaded; set DETECTOR_WEIGHTS to a local .pt file with a SHA256SUMS beside it, "
            "or DETECTOR_ALLOW_UNVERIFIED_WEIGHTS=true."
        )
    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # GitHub redirects release assets to its file host.
        actual = stream_to_file(RELEASE_URL + name, partial)
    except Exception as exc:  # network, HTTP status, disk: the same to the user
        partial.unlink(missing_ok=True)
        raise WeightsError(
            f"Detector weights {name!r} could not be downloaded ({exc}); set DETECTOR_WEIGHTS to a local .pt file."
        ) from exc
    if expected and actual != expected:
        partial.unlink(missing_ok=True)
        raise WeightsError(
            f"Detector weights {name!r} downloaded from {RELEASE_URL} with sha256 {actual}, "
            f"not the official {expected}; refused."
        )
    os.replace(partial, target)
    logger.info("Downloaded %s from the YOLOv5 %s release (sha256 %s)", name, RELEASE, actual)
    return target
