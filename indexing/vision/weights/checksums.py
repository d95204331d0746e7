"""Whether a weights file is the one we expect: the one rule serving, training and evaluation share.

A checkpoint is a pickle: loading one runs whatever code it carries, so it is loaded
only when a checksum vouches for it. ``verify`` is the only place that decides:

1. a pinned sha256 (DETECTOR_WEIGHTS_SHA256, ``--weights-sha256``, an MLflow run's
   record), else the line for the file's name in a SHA256SUMS file beside it, must
   match the file; a mismatch is always an error;
2. with nothing pinned or listed, a file that is byte for byte an official YOLOv5
   release asset (``OFFICIAL_SHA256``) is known too;
3. anything else is unverified: refused when ``required`` (training and evaluation
   always; the detector unless DETECTOR_ALLOW_UNVERIFIED_WEIGHTS).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from indexing.vision.errors import ModelLoadError

CHECKSUM_FILE = "SHA256SUMS"

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


class WeightsError(ModelLoadError):
    """Weights cannot be resolved, fetched or verified: the one error for serving, training and evaluation."""


@dataclass(frozen=True)
class WeightsFile:
    path: Path
    sha256: str
    verified: bool  # True when the sha256 matched a known checksum
    source: str  # what the spec was resolved from, for log lines
    # What identifies the weights beside their checksum: the file name, or for MLflow
    # the run artifact (``runs:/<run_id>/weights/best.pt``, also for ``models:/`` specs).
    name: str = ""
    run_id: str = ""  # the MLflow run the weights came from, when they did

    @property
    def version(self) -> str:
        """``<name>@<sha256[:12]>``: stored on every crop as the detector version."""
        return f"{self.name or self.path.name}@{self.sha256[:12]}"


def official_checksum(name: str) -> str:
    """The listed sha256 of an official checkpoint name, or ""."""
    return OFFICIAL_SHA256.get(name, "")


def is_official_checksum(sha256: str) -> bool:
    return sha256.lower() in _KNOWN


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_beside(path: Path) -> str:
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


def verify(path: Path, expected: str = "", *, required: bool, pin_name: str, source: str = "") -> WeightsFile:
    """Check ``path`` by the rule in the module docstring.

    ``pin_name`` is where the refusal says to pin the checksum (DETECTOR_WEIGHTS_SHA256
    for the detector, ``--weights-sha256`` for training and evaluation).
    """
    actual = file_sha256(path)
    expected = (expected or "").strip().lower() or checksum_beside(path)
    if expected and expected != actual:
        raise WeightsError(
            f"Weights file {path} has sha256 {actual} but {expected} was expected; "
            "the file is corrupt or not the one configured."
        )
    verified = bool(expected) or is_official_checksum(actual)
    if required and not verified:
        raise WeightsError(
            f"Detector weights {path} (sha256 {actual}) match no known checksum, and loading them would run any "
            f"code they contain. If you trust them, pin them: {pin_name}={actual}, or the line '{actual}  "
            f"{path.name}' in a SHA256SUMS file beside them; or set DETECTOR_ALLOW_UNVERIFIED_WEIGHTS=true to serve "
            "them anyway (training and evaluation always check). Weights from an MLflow run (runs:/ or models:/) "
            "are checked against the run's record."
        )
    return WeightsFile(path=path, sha256=actual, verified=verified, source=source or str(path))
