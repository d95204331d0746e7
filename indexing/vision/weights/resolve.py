"""Where detector weights come from: the one resolver for serving, training and evaluation.

``resolve_weights`` turns a weights spec into a checked file on disk: a local path,
an official checkpoint name (downloaded once into ``official_cache_dir()``), or an
MLflow URI (``runs:/<run_id>/weights/best.pt``, ``models:/<name>/<version>``,
``models:/<name>@<alias>``) fetched into the model cache by ``mlflow_weights``.
Every file passes ``checksums.verify``; its failures are ``WeightsError``.

The detector calls it through ``resolve_detector_weights`` (DETECTOR_WEIGHTS_SHA256,
DETECTOR_ALLOW_UNVERIFIED_WEIGHTS); ``configured_weights_spec`` says which spec the
settings ask for (DETECTOR_WEIGHTS, or MLFLOW_RUN_ID's best.pt). Training and
evaluation (``mlops``) call it with ``required=True``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from indexing.vision.weights.checksums import WeightsError, WeightsFile, official_checksum, verify
from indexing.vision.weights.downloads import YOLOV5_RELEASES_URL, require_reachable
from indexing.vision.weights.mlflow import is_mlflow_uri, require_mlflow_server, resolve_mlflow, weights_from_env
from indexing.vision.weights.official import download_official


def configured_weights_spec() -> str:
    """The weights spec the settings ask for.

    Precedence: an MLflow URI in DETECTOR_WEIGHTS > MLFLOW_RUN_ID (its
    ``runs:/<id>/weights/best.pt``) > DETECTOR_WEIGHTS as a local path or official name.
    """
    if settings.MLFLOW_RUN_ID and settings.MLFLOW_EXPERIMENT_ID:
        require_mlflow_server(f"the detector weights of MLFLOW_RUN_ID={settings.MLFLOW_RUN_ID}")
    try:
        return weights_from_env()
    except WeightsError:
        raise  # already says what is wrong (the run is in another experiment)
    except Exception as exc:  # MLflow server unreachable, unknown run: same to the user
        raise WeightsError(f"MLFLOW_RUN_ID={settings.MLFLOW_RUN_ID!r} could not be checked in MLflow: {exc}") from exc


def resolve_detector_weights(spec: str, expected_sha256: str | None = None) -> WeightsFile:
    """Turn a DETECTOR_WEIGHTS value into a checked local file, by the serving settings.

    ``expected_sha256`` defaults to settings.DETECTOR_WEIGHTS_SHA256, which for an
    MLflow URI pins DETECTOR_WEIGHTS only, not a run chosen by MLFLOW_RUN_ID. Weights
    no checksum vouches for are refused unless DETECTOR_ALLOW_UNVERIFIED_WEIGHTS
    (then ``verified=False`` and the loader warns).
    """
    spec = str(spec).strip()
    if not spec:
        raise WeightsError("DETECTOR_WEIGHTS is empty; set it to a local .pt file or an official name.")
    if expected_sha256 is None:
        pins_this = not is_mlflow_uri(spec) or spec == str(settings.DETECTOR_WEIGHTS).strip()
        expected_sha256 = settings.DETECTOR_WEIGHTS_SHA256 if pins_this else ""
    return resolve_weights(
        spec,
        expected_sha256,
        required=not settings.DETECTOR_ALLOW_UNVERIFIED_WEIGHTS,
        spec_name="DETECTOR_WEIGHTS",
        pin_name="DETECTOR_WEIGHTS_SHA256",
    )


def resolve_weights(
    spec: str,
    expected_sha256: str = "",
    *,
    required: bool = True,
    spec_name: str = "--weights",
    pin_name: str = "--weights-sha256",
) -> WeightsFile:
    """A local path, official name or MLflow URI as a checked local file (see the module docstring).

    ``expected_sha256`` pins the file; with none, a SHA256SUMS file beside it or the
    official checksums decide (``checksums.verify``). ``spec_name`` and ``pin_name``
    say in messages where the spec and the pin were set; the defaults are the
    ``train_detector`` and ``evaluate_detector`` options.
    """
    spec = str(spec).strip()
    expected_sha256 = expected_sha256 or ""
    if is_mlflow_uri(spec):
        return resolve_mlflow(spec, expected_sha256, required=required, pin_name=pin_name)
    path = Path(spec).expanduser()
    if path.is_file():
        source = f"local file {path}"
    elif looks_like_path(spec) or not spec:
        raise WeightsError(f"{spec_name}={spec!r} does not exist; set it to a local .pt file.")
    else:
        path, source = _download_official(spec, required), f"official checkpoint {spec}"
        # A downloaded (or cached) official name must be that official file, always.
        expected_sha256 = expected_sha256 or official_checksum(spec)
    return verify(path, expected_sha256, required=required, source=source, pin_name=pin_name)


def looks_like_path(spec: str) -> bool:
    """A spec that names a file (not an official checkpoint name to download)."""
    return "/" in spec or "\\" in spec or spec.startswith((".", "~"))


def official_cache_dir() -> Path:
    """The one folder official checkpoints are downloaded to, by the detector and by training alike."""
    return Path(settings.MODEL_CACHE_DIR) / "yolov5"


def _download_official(name: str, required: bool) -> Path:
    """Fetch an official checkpoint (e.g. yolov5s.pt) into the cache, checked against its sha256."""
    target = official_cache_dir() / name
    if target.is_file() and target.stat().st_size > 0:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Offline, a download only fails after its timeouts: fail in seconds instead, naming the settings.
    require_reachable(YOLOV5_RELEASES_URL, f"the detector weights {name!r}")
    # Our own download, not yolov5's attempt_download (which also tries the model hub and
    # GitHub's API): one release URL, and the file is kept only if its sha256 is official.
    return download_official(name, target, required=required)
