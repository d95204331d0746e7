"""MLflow experiments and the UI server, over the store ``indexing.vision.weights.mlflow_store`` configures.

Where the store is (``tracking_uri``) and the client live in that module, below
indexing, because the detector fetches its weights from MLflow too.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from indexing.vision.weights.mlflow_store import client, configure_mlflow, sqlite_path, tracking_uri

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "visualsearch-detector"


def artifact_root(uri: str | None = None) -> Path | None:
    """Where a sqlite store keeps artifacts: beside its database, never ``./mlruns`` of the current directory.

    None for tracking servers, which choose their own artifact location.
    """
    db = sqlite_path(uri or tracking_uri())
    return db.parent / "artifacts" if db else None


def get_or_create_experiment(name: str | None = None) -> str:
    """Experiment id: ``name`` (created when new), else MLFLOW_EXPERIMENT_ID, else the default experiment."""
    if not name and settings.MLFLOW_EXPERIMENT_ID:
        return str(settings.MLFLOW_EXPERIMENT_ID)
    name = name or DEFAULT_EXPERIMENT
    mlflow_client = client()
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    root = artifact_root()
    location = (root / name).as_uri() if root else None
    experiment_id = mlflow_client.create_experiment(name, artifact_location=location)
    logger.info("Created MLflow experiment %r (%s), artifacts in %s", name, experiment_id, location or "server default")
    return experiment_id


def mlflow_server_command(host: str = "127.0.0.1", port: int = 5000, workers: int = 1) -> list[str]:
    """``mlflow server`` over the project's store (runs, registry and artifacts) as an argv list."""
    import sys

    uri = configure_mlflow()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
    ]
    root = artifact_root(uri)
    if root:
        root.mkdir(parents=True, exist_ok=True)
        command += ["--artifacts-destination", str(root)]
    return command
