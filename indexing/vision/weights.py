"""Where the detector's weights come from, and whether they are the file we expect.

``resolve_detector_weights`` is the one place that turns the DETECTOR_WEIGHTS
setting into a file on disk: a local path, or an official checkpoint name that
the yolov5 package downloads. MLflow URIs (``runs:/``, ``models:/``) plug in here.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from indexing.vision.errors import ModelLoadError

logger = logging.getLogger(__name__)

CHECKSUM_FILE = "SHA256SUMS"


@dataclass(frozen=True)
class WeightsFile:
    path: Path
    sha256: str
    verified: bool  # True when the sha256 matched a known checksum
    source: str  # what the spec was resolved from, for log lines and versions


def resolve_detector_weights(spec: str, expected_sha256: str | None = None) -> WeightsFile:
    """Turn a DETECTOR_WEIGHTS value into a checked local file.

    ``expected_sha256`` defaults to settings.DETECTOR_WEIGHTS_SHA256; when both are
    empty a SHA256SUMS file beside the weights is consulted. A mismatch is an error;
    no known checksum at all gives ``verified=False`` (the caller warns).
    """
    spec = str(spec).strip()
    if not spec:
        raise ModelLoadError("DETECTOR_WEIGHTS is empty; set it to a local .pt file or an official name.")
    if spec.startswith(("runs:/", "models:/")):
        raise ModelLoadError(f"DETECTOR_WEIGHTS={spec!r}: MLflow URIs are not supported yet; use a local .pt file.")
    path = Path(spec).expanduser()
    if path.is_file():
        source = f"local file {path}"
    elif _looks_like_path(spec):
        raise ModelLoadError(f"DETECTOR_WEIGHTS={spec!r} does not exist; set it to a local .pt file.")
    else:
        path, source = _download_official(spec), f"official checkpoint {spec}"
    expected = settings.DETECTOR_WEIGHTS_SHA256 if expected_sha256 is None else expected_sha256
    return verify_checksum(path, expected, source)


def verify_checksum(path: Path, expected_sha256: str = "", source: str = "") -> WeightsFile:
    actual = file_sha256(path)
    expected = (expected_sha256 or "").strip().lower() or _checksum_beside(path)
    if expected and expected != actual:
        raise ModelLoadError(
            f"Weights file {path} has sha256 {actual} but {expected} was expected; "
            "the file is corrupt or not the one configured."
        )
    return WeightsFile(path=path, sha256=actual, verified=bool(expected), source=source or str(path))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checksum_beside(path: Path) -> str:
    """The sha256 listed for ``path``'s name in a SHA256SUMS file next to it, or ""."""
    sums = path.parent / CHECKSUM_FILE
    if not sums.is_file():
        return ""
    for line in sums.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        # sha256sum writes "<hex>  <name>" (or "<hex> *<name>" in binary mode).
        if len(parts) == 2 and parts[1].lstrip("*") == path.name:
            return parts[0].lower()
    return ""


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.startswith((".", "~"))


def _download_official(name: str) -> Path:
    """Fetch an official checkpoint (e.g. yolov5s.pt) into MODEL_CACHE_DIR via the yolov5 package."""
    target = Path(settings.MODEL_CACHE_DIR) / "yolov5" / name
    if target.is_file() and target.stat().st_size > 0:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    failure = ""
    try:
        from yolov5.utils.downloads import attempt_download

        attempt_download(str(target))
    except Exception as exc:  # noqa: BLE001 - any network/library failure means the same to the user
        failure = f" ({exc})"
    if not (target.is_file() and target.stat().st_size > 0):
        raise ModelLoadError(
            f"Detector weights {name!r} could not be downloaded{failure}; set DETECTOR_WEIGHTS to a local .pt file."
        )
    return target
