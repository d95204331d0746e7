"""MLflow configuration: where runs, metrics and artifacts are stored.

With no ``MLFLOW_TRACKING_URI`` the project keeps a local store under
``VAR_DIR/mlflow`` (``mlflow.db`` for runs and the model registry,
``artifacts/`` for files), like the embedded database: nothing to run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from django.conf import settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "visualsearch-detector"


def local_store_dir() -> Path:
    return Path(settings.VAR_DIR) / "mlflow"


def tracking_uri() -> str:
    return settings.MLFLOW_TRACKING_URI or f"sqlite:///{local_store_dir() / 'mlflow.db'}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (SQLAlchemy form: four slashes = absolute), else None."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path = unquote(uri.removeprefix(prefix).split("?", 1)[0])
    return Path(path) if path not in ("", ":memory:") else None


def artifact_root(uri: str | None = None) -> Path | None:
    """Where a sqlite store keeps artifacts: beside its database, never ``./mlruns`` of the current directory.

    None for tracking servers, which choose their own artifact location.
    """
    db = sqlite_path(uri or tracking_uri())
    return db.parent / "artifacts" if db else None


def configure_mlflow() -> str:
    """Point the mlflow client (tracking and model registry) at the project's store; returns the URI."""
    import mlflow

    uri = tracking_uri()
    db = sqlite_path(uri)
    if db:
        db.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def client() -> MlflowClient:
    # Imported here: mlflow takes seconds to import and most processes never track anything.
    from mlflow import MlflowClient

    uri = configure_mlflow()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


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
