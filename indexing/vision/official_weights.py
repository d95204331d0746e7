"""The official YOLOv5 checkpoints: where they come from and what their bytes must hash to.

A checkpoint is a pickle: loading one runs whatever code it carries. Official names
(``yolov5s.pt``) are downloaded from the YOLOv5 v7.0 release and kept only when their
sha256 is the one listed here; a local file whose sha256 is listed is known too.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from django.conf import settings

from indexing.vision.errors import ModelLoadError

logger = logging.getLogger(__name__)

RELEASE = "v7.0"
RELEASE_URL = f"https://github.com/ultralytics/yolov5/releases/download/{RELEASE}/"

# sha256 of the v7.0 release assets (the last YOLOv5 release, which the yolov5 package
# fetches). yolov5n.pt: computed from the official copy in ../shared/assets/weights
# (4,062,133 bytes). yolov5s/m/l/x.pt: not downloadable here; the values that several
# independent projects pinning these exact files record (yolov5s.pt 14,808,437 bytes,
# yolov5m.pt 42,806,829, yolov5l.pt 93,622,629, yolov5x.pt 174,114,333). Any other name
# (P6 ``yolov5s6.pt``, ``-seg``, ``-cls``) has no entry and is refused unless
# DETECTOR_ALLOW_UNVERIFIED_WEIGHTS is on.
OFFICIAL_SHA256 = {
    "yolov5n.pt": "4f180cf23ba0717ada0badd6c685026d73d48f184d00fc159c2641284b2ac0a3",
    "yolov5s.pt": "8b3b748c1e592ddd8868022e8732fde20025197328490623cc16c6f24d0782ee",
    "yolov5m.pt": "61d933360ba5a7733a36764996c800287d973889d875227f5beedd2473a97a56",
    "yolov5l.pt": "2f603b7354c25454d1270663a14d8ddc1eea98e5eebc1d84ce0c6e3150fa155f",
    "yolov5x.pt": "9f27a794fa0308e2606f90565164571d6f0a0ba18a3ce2e5e5d323b71c157859",
}
_KNOWN = set(OFFICIAL_SHA256.values())


def official_checksum(name: str) -> str:
    """The listed sha256 of an official checkpoint name, or ""."""
    return OFFICIAL_SHA256.get(name, "")


def is_official_checksum(sha256: str) -> bool:
    return sha256.lower() in _KNOWN


def download_official(name: str, target: Path) -> Path:
    """Download the official checkpoint ``name`` to ``target``, kept only if its sha256 is listed.

    A name with no listed checksum is refused unless DETECTOR_ALLOW_UNVERIFIED_WEIGHTS.
    The file streams into ``<target>.part`` and is renamed into place after the check,
    so an unverified or partial file never sits where the loader looks.
    """
    expected = official_checksum(name)
    if not expected and not settings.DETECTOR_ALLOW_UNVERIFIED_WEIGHTS:
        raise ModelLoadError(
            f"Detector weights {name!r}: no known checksum for that name (known: {', '.join(OFFICIAL_SHA256)}), "
            "so it is not downloaded; set DETECTOR_WEIGHTS to a local .pt file with a SHA256SUMS beside it, "
            "or DETECTOR_ALLOW_UNVERIFIED_WEIGHTS=true."
        )
    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        actual = fetch_release_asset(RELEASE_URL + name, partial)
    except Exception as exc:  # network, HTTP status, disk: the same to the user
        partial.unlink(missing_ok=True)
        raise ModelLoadError(
            f"Detector weights {name!r} could not be downloaded ({exc}); set DETECTOR_WEIGHTS to a local .pt file."
        ) from exc
    if expected and actual != expected:
        partial.unlink(missing_ok=True)
        raise ModelLoadError(
            f"Detector weights {name!r} downloaded from {RELEASE_URL} with sha256 {actual}, "
            f"not the official {expected}; refused."
        )
    os.replace(partial, target)
    logger.info("Downloaded %s from the YOLOv5 %s release (sha256 %s)", name, RELEASE, actual)
    return target


def fetch_release_asset(url: str, dest: Path, timeout: float = 60.0) -> str:
    """Stream ``url`` into ``dest`` and return its sha256 (GitHub redirects to its file host)."""
    import requests

    digest = hashlib.sha256()
    with requests.get(url, stream=True, timeout=timeout) as response:
        response.raise_for_status()
        with open(dest, "wb") as out:
            for chunk in response.iter_content(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    return digest.hexdigest()
