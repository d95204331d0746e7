"""Detector weights from MLflow: ``runs:/<run_id>/<path>`` and ``models:/<name>/<version|@alias>``.

Downloads land in ``MODEL_CACHE_DIR/mlflow/runs/<run_id>/<artifact path>`` with
a ``.sha256`` sidecar. A cached file is reused only while it still matches its
recorded checksum (and the run's checksum tag, when the run has one); anything
else is fetched again, so a tampered or truncated cache heals itself.

Here, beside the detector that loads them, and not in ``mlops`` (which trains and
evaluates on top of indexing): the serving path must not import ``mlops``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings

from indexing.vision.weights.checksums import WeightsError, WeightsFile, file_sha256, verify
from indexing.vision.weights.downloads import SourceUnreachable, download_problem
from indexing.vision.weights.mlflow_store import client, tracking_uri

logger = logging.getLogger(__name__)

MLFLOW_PREFIXES = ("runs:/", "models:/")
# Run tags where training records the checksum of the weights it logged.
CHECKSUM_TAGS = {"weights/best.pt": "best_sha256", "weights/last.pt": "last_sha256"}
DEFAULT_ARTIFACT = "weights/best.pt"


@dataclass(frozen=True)
class RunArtifact:
    run_id: str
    artifact_path: str


def is_mlflow_uri(spec: str) -> bool:
    return spec.startswith(MLFLOW_PREFIXES)


def parse_runs_uri(uri: str) -> RunArtifact:
    run_id, _, path = uri.removeprefix("runs:/").strip("/").partition("/")
    if not run_id or not path:
        raise WeightsError(f"Expected runs:/<run_id>/<artifact path>, got {uri!r}")
    return RunArtifact(run_id, path)


def resolve_models_uri(uri: str) -> RunArtifact:
    """``models:/name/3`` or ``models:/name@alias`` (also ``models:/name/@alias``) -> the run's best.pt."""
    rest = uri.removeprefix("models:/").strip("/")
    if "@" in rest:
        name, _, alias = rest.partition("@")
        name = name.rstrip("/")
        version = client().get_model_version_by_alias(name, alias)
    else:
        name, _, number = rest.rpartition("/")
        if not name or not number.isdigit():
            raise WeightsError(f"Expected models:/<name>/<version> or models:/<name>@<alias>, got {uri!r}")
        version = client().get_model_version(name, number)
    if not version.run_id:
        raise WeightsError(f"{uri} (model version {version.version}) is not linked to a training run")
    logger.info("%s is model version %s of run %s", uri, version.version, version.run_id)
    return RunArtifact(version.run_id, DEFAULT_ARTIFACT)


def resolve_uri(uri: str) -> RunArtifact:
    if uri.startswith("runs:/"):
        return parse_runs_uri(uri)
    if uri.startswith("models:/"):
        return resolve_models_uri(uri)
    raise WeightsError(f"Not an MLflow weights URI: {uri!r}")


def cache_path(artifact: RunArtifact, cache_dir: Path | None = None) -> Path:
    root = Path(cache_dir or settings.MODEL_CACHE_DIR) / "mlflow" / "runs"
    target = (root / artifact.run_id / artifact.artifact_path).resolve()
    # The artifact path comes from a URI: never let it climb out of the cache.
    if not target.is_relative_to(root.resolve()):
        raise WeightsError(f"Artifact path escapes the cache: {artifact.artifact_path!r}")
    return target


def expected_checksum(artifact: RunArtifact) -> str | None:
    tag = CHECKSUM_TAGS.get(artifact.artifact_path)
    if tag is None:
        return None
    return client().get_run(artifact.run_id).data.tags.get(tag)


def cached_file_ok(target: Path, expected: str | None) -> bool:
    sidecar = sidecar_of(target)
    if not (target.is_file() and sidecar.is_file()):
        return False
    recorded = sidecar.read_text().strip()
    if expected and recorded != expected:
        logger.warning("Cached %s records sha256 %s but the run says %s; fetching again", target, recorded, expected)
        return False
    actual = file_sha256(target)
    if actual != recorded:
        logger.warning(
            "Cached %s has sha256 %s, recorded %s (tampered or partial); fetching again", target, actual, recorded
        )
        return False
    return True


def sidecar_of(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def download(artifact: RunArtifact, target: Path, expected: str | None) -> str:
    """Download into a temporary directory, verify, then move into place; returns the sha256."""
    from mlflow.artifacts import download_artifacts

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        local = Path(
            download_artifacts(
                run_id=artifact.run_id, artifact_path=artifact.artifact_path, dst_path=tmp, tracking_uri=tracking_uri()
            )
        )
        actual = file_sha256(local)
        if expected and actual != expected:
            raise WeightsError(
                f"runs:/{artifact.run_id}/{artifact.artifact_path} downloaded with sha256 {actual}, "
                f"but the run recorded {expected}"
            )
        os.replace(local, target)
    sidecar_of(target).write_text(actual + "\n")
    return actual


def fetch_mlflow_weights(uri: str, cache_dir: Path | None = None) -> Path:
    """Local path of the weights at an MLflow URI, downloading only when the cache cannot be trusted."""
    return fetch_mlflow_artifact(uri, cache_dir)[1]


def fetch_mlflow_artifact(uri: str, cache_dir: Path | None = None) -> tuple[RunArtifact, Path]:
    """Like ``fetch_mlflow_weights``, also saying which run the URI resolved to (aliases move)."""
    artifact = resolve_uri(uri)
    target = cache_path(artifact, cache_dir)
    expected = expected_checksum(artifact)
    if cached_file_ok(target, expected):
        logger.info("Weights %s cached at %s", uri, target)
        return artifact, target
    if target.exists():
        target.unlink()
    checksum = download(artifact, target, expected)
    logger.info("Weights %s downloaded to %s (sha256 %s)", uri, target, checksum)
    return artifact, target


def recorded_checksum(path: Path) -> str | None:
    """The checksum recorded beside a file this module downloaded (already verified against the run)."""
    sidecar = sidecar_of(path)
    return sidecar.read_text().strip() if sidecar.is_file() else None


def spec_from_settings() -> str:
    """DETECTOR_WEIGHTS, or MLFLOW_RUN_ID's best.pt when DETECTOR_WEIGHTS is not an MLflow URI; no MLflow call."""
    spec = str(settings.DETECTOR_WEIGHTS).strip()
    if is_mlflow_uri(spec) or not settings.MLFLOW_RUN_ID:
        return spec
    return run_weights_uri(settings.MLFLOW_RUN_ID)


def run_weights_uri(run_id: str) -> str:
    return f"runs:/{run_id}/{DEFAULT_ARTIFACT}"


def weights_from_env() -> str:
    """The detector weights spec the settings ask for.

    Precedence:

    1. ``DETECTOR_WEIGHTS`` when it is an MLflow URI (``runs:/...`` or ``models:/...``);
    2. ``MLFLOW_RUN_ID``: that training run's ``runs:/<id>/weights/best.pt``; with
       ``MLFLOW_EXPERIMENT_ID`` also set, the run must belong to that experiment;
    3. ``DETECTOR_WEIGHTS`` as a local path (or an official checkpoint name).
    """
    spec = spec_from_settings()
    run_id = settings.MLFLOW_RUN_ID
    if run_id and settings.MLFLOW_EXPERIMENT_ID and spec == run_weights_uri(run_id):
        experiment_id = client().get_run(run_id).info.experiment_id
        if experiment_id != str(settings.MLFLOW_EXPERIMENT_ID):
            raise WeightsError(
                f"MLFLOW_RUN_ID {run_id} belongs to experiment {experiment_id}, "
                f"not MLFLOW_EXPERIMENT_ID {settings.MLFLOW_EXPERIMENT_ID}"
            )
    return spec


def resolve_mlflow(spec: str, pinned: str, *, required: bool, pin_name: str) -> WeightsFile:
    """Fetch (or reuse the cached copy of) an MLflow URI's weights and verify them.

    They are checked against the sha256 recorded when they were downloaded (itself
    checked against the training run's ``best_sha256`` tag), so they come back
    verified; a ``pinned`` checksum must match it as well.
    """
    require_mlflow_server(f"the detector weights {spec!r}")
    try:
        artifact, path = fetch_mlflow_artifact(spec)
    except WeightsError as exc:
        raise WeightsError(f"Detector weights {spec!r}: {exc}") from exc
    except Exception as exc:  # unknown run or model, server down: same to the user
        raise WeightsError(f"Detector weights {spec!r} could not be fetched from MLflow: {exc}") from exc
    recorded = recorded_checksum(path) or ""
    pinned = pinned.strip().lower()
    if pinned and recorded and pinned != recorded:
        raise WeightsError(
            f"Detector weights {spec!r} are run {artifact.run_id}'s with sha256 {recorded}, "
            f"but {pinned} was expected ({pin_name})."
        )
    name = f"runs:/{artifact.run_id}/{artifact.artifact_path}"
    source = spec if spec == name else f"{spec} ({name})"
    checked = verify(path, pinned or recorded, required=required, source=source, pin_name=pin_name)
    return replace(checked, name=name, run_id=artifact.run_id)


def mlflow_server_problem(what: str) -> str:
    """Why ``what`` cannot be fetched from the MLflow server, or "" (also for a local store)."""
    uri = settings.MLFLOW_TRACKING_URI
    return download_problem(uri, what) if uri.startswith(("http://", "https://")) else ""


def require_mlflow_server(what: str) -> None:
    """An MLflow server that does not answer fails at once (its client retries for minutes)."""
    problem = mlflow_server_problem(what)
    if problem:
        raise SourceUnreachable(problem)
