"""Where the detector's weights come from, and whether they are the file we expect.

``resolve_detector_weights`` is the one place that turns a weights spec into a
checked file on disk: a local path, an official checkpoint name that the yolov5
package downloads, or an MLflow URI (``runs:/<run_id>/weights/best.pt``,
``models:/<name>/<version>``, ``models:/<name>@<alias>``) fetched into the model
cache by ``mlops.weights``. ``configured_weights_spec`` says which spec the
settings ask for (DETECTOR_WEIGHTS, or MLFLOW_RUN_ID's best.pt).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings

from indexing.vision.downloads import YOLOV5_RELEASES_URL, require_reachable
from indexing.vision.errors import ModelLoadError
from indexing.vision.official_weights import download_official, is_official_checksum, official_checksum

logger = logging.getLogger(__name__)

CHECKSUM_FILE = "SHA256SUMS"
MLFLOW_PREFIXES = ("runs:/", "models:/")


@dataclass(frozen=True)
class WeightsFile:
    path: Path
    sha256: str
    verified: bool  # True when the sha256 matched a known checksum
    source: str  # what the spec was resolved from, for log lines
    # What identifies the weights beside their checksum: the file name, or for MLflow
    # the run artifact (``runs:/<run_id>/weights/best.pt``, also for ``models:/`` specs).
    name: str = ""

    @property
    def version(self) -> str:
        """``<name>@<sha256[:12]>``: stored on every crop as the detector version."""
        return f"{self.name or self.path.name}@{self.sha256[:12]}"


def configured_weights_spec() -> str:
    """The weights spec the settings ask for.

    Precedence: an MLflow URI in DETECTOR_WEIGHTS > MLFLOW_RUN_ID (its
    ``runs:/<id>/weights/best.pt``) > DETECTOR_WEIGHTS as a local path or official name.
    """
    from mlops.weights import WeightsError, weights_from_env

    if settings.MLFLOW_RUN_ID and settings.MLFLOW_EXPERIMENT_ID:
        _require_mlflow_server(f"the detector weights of MLFLOW_RUN_ID={settings.MLFLOW_RUN_ID}")
    try:
        return weights_from_env()
    except WeightsError as exc:
        raise ModelLoadError(str(exc)) from exc
    except Exception as exc:  # MLflow server unreachable, unknown run: same to the user
        raise ModelLoadError(f"MLFLOW_RUN_ID={settings.MLFLOW_RUN_ID!r} could not be checked in MLflow: {exc}") from exc


def resolve_detector_weights(spec: str, expected_sha256: str | None = None) -> WeightsFile:
    """Turn a DETECTOR_WEIGHTS value into a checked local file.

    ``expected_sha256`` defaults to settings.DETECTOR_WEIGHTS_SHA256; when both are
    empty a SHA256SUMS file beside the weights is consulted, then the official YOLOv5
    checksums (by name for a downloaded checkpoint, by value for a local file). A
    mismatch is an error; so is no known checksum at all, unless
    DETECTOR_ALLOW_UNVERIFIED_WEIGHTS (then ``verified=False`` and the loader warns).

    MLflow URIs are checked against the sha256 recorded when they were downloaded
    (itself checked against the training run's ``best_sha256`` tag), so they always
    come back verified; a pinned checksum must match it as well.
    """
    spec = str(spec).strip()
    if not spec:
        raise ModelLoadError("DETECTOR_WEIGHTS is empty; set it to a local .pt file or an official name.")
    if spec.startswith(MLFLOW_PREFIXES):
        if expected_sha256 is None and spec == str(settings.DETECTOR_WEIGHTS).strip():
            # DETECTOR_WEIGHTS_SHA256 pins DETECTOR_WEIGHTS, not a run chosen by MLFLOW_RUN_ID.
            expected_sha256 = settings.DETECTOR_WEIGHTS_SHA256
        return _resolve_mlflow(spec, expected_sha256 or "")
    path = Path(spec).expanduser()
    if path.is_file():
        source = f"local file {path}"
    elif _looks_like_path(spec):
        raise ModelLoadError(f"DETECTOR_WEIGHTS={spec!r} does not exist; set it to a local .pt file.")
    else:
        path, source = _download_official(spec), f"official checkpoint {spec}"
        # A downloaded (or cached) official name must be that official file, always.
        expected_sha256 = expected_sha256 or settings.DETECTOR_WEIGHTS_SHA256 or official_checksum(spec)
    expected = settings.DETECTOR_WEIGHTS_SHA256 if expected_sha256 is None else expected_sha256
    return require_verified(verify_checksum(path, expected, source))


def require_verified(weights: WeightsFile) -> WeightsFile:
    """Refuse weights no checksum vouches for: unpickling a checkpoint runs any code inside it."""
    if weights.verified or settings.DETECTOR_ALLOW_UNVERIFIED_WEIGHTS:
        return weights
    raise ModelLoadError(
        f"Detector weights {weights.path} (sha256 {weights.sha256}) match no known checksum, and loading them "
        "would run any code they contain. If you trust them, pin them: DETECTOR_WEIGHTS_SHA256="
        f"{weights.sha256}, or the line '{weights.sha256}  {weights.path.name}' in a SHA256SUMS file beside "
        "them; or set DETECTOR_ALLOW_UNVERIFIED_WEIGHTS=true."
    )


def _resolve_mlflow(spec: str, pinned: str) -> WeightsFile:
    """Fetch (or reuse the cached copy of) an MLflow URI's weights and verify them."""
    from mlops.weights import WeightsError, fetch_mlflow_artifact, recorded_checksum

    _require_mlflow_server(f"the detector weights {spec!r}")
    try:
        artifact, path = fetch_mlflow_artifact(spec)
    except WeightsError as exc:
        raise ModelLoadError(f"Detector weights {spec!r}: {exc}") from exc
    except Exception as exc:  # unknown run or model, server down: same to the user
        raise ModelLoadError(f"Detector weights {spec!r} could not be fetched from MLflow: {exc}") from exc
    recorded = recorded_checksum(path) or ""
    pinned = pinned.strip().lower()
    if pinned and recorded and pinned != recorded:
        raise ModelLoadError(
            f"Detector weights {spec!r} are run {artifact.run_id}'s with sha256 {recorded}, "
            f"but {pinned} was expected (DETECTOR_WEIGHTS_SHA256)."
        )
    name = f"runs:/{artifact.run_id}/{artifact.artifact_path}"
    source = spec if spec == name else f"{spec} ({name})"
    return require_verified(replace(verify_checksum(path, pinned or recorded, source), name=name))


def _require_mlflow_server(what: str) -> None:
    """An MLflow server that does not answer fails at once (its client retries for minutes)."""
    uri = settings.MLFLOW_TRACKING_URI
    if uri.startswith(("http://", "https://")):
        require_reachable(uri, what)


def verify_checksum(path: Path, expected_sha256: str = "", source: str = "") -> WeightsFile:
    actual = file_sha256(path)
    expected = (expected_sha256 or "").strip().lower() or checksum_beside(path)
    if expected and expected != actual:
        raise ModelLoadError(
            f"Weights file {path} has sha256 {actual} but {expected} was expected; "
            "the file is corrupt or not the one configured."
        )
    # With nothing pinned, a file that is byte for byte an official release asset is known too.
    verified = bool(expected) or is_official_checksum(actual)
    return WeightsFile(path=path, sha256=actual, verified=verified, source=source or str(path))


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


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.startswith((".", "~"))


def _download_official(name: str) -> Path:
    """Fetch an official checkpoint (e.g. yolov5s.pt) into MODEL_CACHE_DIR, checked against its sha256."""
    target = Path(settings.MODEL_CACHE_DIR) / "yolov5" / name
    if target.is_file() and target.stat().st_size > 0:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Offline, a download only fails after its timeouts: fail in seconds instead, naming the settings.
    require_reachable(YOLOV5_RELEASES_URL, f"the detector weights {name!r}")
    # Our own download, not yolov5's attempt_download (which also tries the model hub and
    # GitHub's API): one release URL, and the file is kept only if its sha256 is official.
    return download_official(name, target)
