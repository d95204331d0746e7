"""What a training run writes to MLflow: epoch metrics as they come, inputs before, outputs after.

Split from ``mlops.training`` (which runs yolov5 and owns the run's lifecycle) to
keep each module readable; nothing here starts or ends a run.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexing.vision.weights.checksums import file_sha256
from indexing.vision.weights.mlflow import CHECKSUM_TAGS

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

# The order of the values yolov5 passes to on_fit_epoch_end (yolov5.utils.loggers.Loggers.keys).
EPOCH_KEYS = (
    "train/box_loss",
    "train/obj_loss",
    "train/cls_loss",
    "metrics/precision",
    "metrics/recall",
    "metrics/mAP_0.5",
    "metrics/mAP_0.5:0.95",
    "val/box_loss",
    "val/obj_loss",
    "val/cls_loss",
    "x/lr0",
    "x/lr1",
    "x/lr2",
)
RESULT_FILES = (
    "results.png",
    "results.csv",
    "confusion_matrix.png",
    "PR_curve.png",
    "F1_curve.png",
    "P_curve.png",
    "R_curve.png",
    "labels.jpg",
    "labels_correlogram.jpg",
    "hyp.yaml",
    "opt.yaml",
)


def metric_name(key: str) -> str:
    # Colons are not allowed in MLflow metric names on Windows: keep names portable.
    return key.replace(":", "-")


class MlflowEpochLogger:
    """yolov5 callbacks that write each epoch's losses and metrics to the run as it ends."""

    def __init__(self, mlflow_client: MlflowClient, run_id: str, names: Sequence[str]) -> None:
        self.client, self.run_id = mlflow_client, run_id
        per_class = [f"metrics/{n}_mAP" for n in names] + [f"metrics/{n}_mAP_50" for n in names]
        self.keys = [metric_name(k) for k in (*EPOCH_KEYS, *per_class)]
        self.final: dict[str, float] = {}
        self.last_epoch = 0

    def on_fit_epoch_end(self, vals: Sequence[Any], epoch: int, best_fitness: Any, fi: Any) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        values = dict(zip(self.keys, (float(v) for v in vals), strict=False))
        values["fitness"] = scalar(fi)
        values["best_fitness"] = scalar(best_fitness)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, epoch) for k, v in values.items()])
        self.last_epoch = epoch

    def on_train_end(self, last: Path, best: Path, epoch: int, results: Sequence[Any]) -> None:
        # ``results`` are best.pt's validation after training: P, R, mAP50, mAP50-95, val losses.
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        keys = EPOCH_KEYS[3:10]
        self.final = {f"final/{metric_name(k)}": float(v) for k, v in zip(keys, results, strict=True)}
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, epoch) for k, v in self.final.items()])


def scalar(value: Any) -> float:
    import numpy as np

    return float(np.asarray(value, dtype=float).reshape(-1)[0])


def log_inputs(
    mlflow_client: MlflowClient,
    run_id: str,
    options: dict[str, Any],
    hyp: dict[str, Any],
    dataset_version: str,
    weights_sha256: str,
    data: Path,
) -> None:
    from mlflow.entities import Param

    params = {k: v for k, v in options.items() if k not in ("register", "experiment", "weights_sha256")}
    params |= {"dataset_version": dataset_version, "initial_weights_sha256": weights_sha256}
    params |= {k: v for k, v in hyp.items() if k not in params}
    mlflow_client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
    mlflow_client.log_artifact(run_id, str(data), "dataset")
    manifest = data.parent / "manifest.json"
    if manifest.is_file():
        mlflow_client.log_artifact(run_id, str(manifest), "dataset")


def log_results(mlflow_client: MlflowClient, run_id: str, save_dir: Path) -> None:
    """Log the plots and tables yolov5 wrote."""
    for name in RESULT_FILES:
        if (save_dir / name).is_file():
            mlflow_client.log_artifact(run_id, str(save_dir / name))


def log_weights(mlflow_client: MlflowClient, run_id: str, save_dir: Path) -> str:
    """Log the checkpoints; record each one's sha256 as a tag. Returns best.pt's sha256."""
    for artifact_path, tag in CHECKSUM_TAGS.items():
        weights = save_dir / artifact_path
        if weights.is_file():
            mlflow_client.log_artifact(run_id, str(weights), "weights")
            mlflow_client.set_tag(run_id, tag, file_sha256(weights))
    return file_sha256(save_dir / "weights" / "best.pt")


def register_best(mlflow_client: MlflowClient, run_id: str, name: str, best_sha256: str) -> str:
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):  # already registered: add a version
        mlflow_client.create_registered_model(name)
    version = mlflow_client.create_model_version(
        name, source=f"runs:/{run_id}/weights", run_id=run_id, tags={"best_sha256": best_sha256}
    )
    logger.info("Registered runs:/%s/weights/best.pt as model %s version %s", run_id, name, version.version)
    return version.version
