"""Which MLflow store this project talks to, and a client for it.

The detector fetches its weights from MLflow (``mlflow_weights``), and indexing must
never import ``mlops``; so the store's configuration lives here, below both, and
``mlops.tracking`` (experiments, the UI server) builds on it.

With no ``MLFLOW_TRACKING_URI`` the project keeps a local store under
``VAR_DIR/mlflow`` (``mlflow.db`` for runs and the model registry,
``artifacts/`` for files), like the embedded database: nothing to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from django.conf import settings

if TYPE_CHECKING:
    from mlflow import MlflowClient


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
