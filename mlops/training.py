"""Train the YOLOv5 detector with the ``yolov5`` package, tracked in one MLflow run.

Parameters, hyperparameters and the dataset manifest are logged before
training starts; losses and metrics are logged at the end of every epoch from a
yolov5 callback (live, step = epoch); weights, plots and checksums at the end.
The run always ends FINISHED, FAILED (exception) or KILLED (Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlops.tracking import client, get_or_create_experiment
from mlops.weights import CHECKSUM_TAGS, fetch_mlflow_weights, is_mlflow_uri, recorded_checksum
from mlops.yolov5_env import (
    full_checkpoint_loading,
    prepare_yolov5,
    restore_torch_determinism,
    sha256_of,
    verify_checkpoint,
)

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


class TrainingError(Exception):
    """Training cannot start or did not produce weights."""


class TrainingTerminated(KeyboardInterrupt):
    """SIGTERM during training: handled like Ctrl-C, so the run ends KILLED."""


@dataclass
class TrainConfig:
    data: Path
    weights: str = "yolov5s.pt"
    imgsz: int = 640
    batch_size: int = 16
    epochs: int = 80
    project: Path = Path("runs/train")
    name: str = "yolov5_coco_subset"
    device: str = ""
    workers: int = 8
    dataset_version: str = ""
    register: str | None = None
    experiment: str | None = None
    weights_sha256: str | None = None
    hyp: Path | None = None
    seed: int = 0


@dataclass
class TrainResult:
    run_id: str
    save_dir: Path
    best: Path
    best_sha256: str
    final_metrics: dict[str, float] = field(default_factory=dict)
    model_version: str | None = None


def metric_name(key: str) -> str:
    # Colons are not allowed in MLflow metric names on Windows: keep names portable.
    return key.replace(":", "-")


# --- inputs -----------------------------------------------------------------------


def resolve_initial_weights(spec: str, expected_sha256: str | None = None) -> tuple[Path, str]:
    """Local, checksum-verified path of the starting checkpoint, and its sha256."""
    if is_mlflow_uri(spec):
        path = fetch_mlflow_weights(spec)
        return path, recorded_checksum(path) or sha256_of(path)
    path = Path(spec)
    if path.is_file():
        return path, verify_checkpoint(path, expected_sha256)
    if path.name == spec and spec.endswith(".pt"):
        # An official checkpoint name: the YOLOv5 release asset, kept only with its official sha256.
        from django.conf import settings

        from indexing.vision.errors import ModelLoadError
        from indexing.vision.official_weights import download_official, official_checksum

        downloaded = Path(settings.MODEL_CACHE_DIR) / "yolov5" / spec
        try:
            if not downloaded.is_file():
                download_official(spec, downloaded)
        except ModelLoadError as exc:
            raise TrainingError(str(exc)) from exc
        checksum = verify_checkpoint(downloaded, expected_sha256 or official_checksum(spec))
        logger.info("Official checkpoint %s at %s (sha256 %s)", spec, downloaded, checksum)
        return downloaded, checksum
    raise TrainingError(f"Weights not found: {spec}")


def load_data_files(data: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The data.yaml and, for versions written by extract_coco_subset, the manifest.json beside it."""
    if not data.is_file():
        raise TrainingError(f"Dataset file not found: {data}")
    data_dict = yaml.safe_load(data.read_text())
    manifest_file = data.parent / "manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else None
    return data_dict, manifest


def class_names(data_dict: dict[str, Any]) -> list[str]:
    names = data_dict["names"]
    return [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)


def default_hyp() -> Path:
    import yolov5

    return Path(yolov5.__file__).parent / "data" / "hyps" / "hyp.scratch-low.yaml"


def build_opt(config: TrainConfig, weights: Path, hyp: Path) -> Any:
    """yolov5's own option namespace with its defaults, overridden by ``config``."""
    import yolov5.train as yolo_train

    # parse_opt reads sys.argv: hide the caller's arguments (manage.py's, pytest's) from it.
    saved, sys.argv = sys.argv, sys.argv[:1]
    try:
        opt = yolo_train.parse_opt(known=True)
    finally:
        sys.argv = saved
    overrides = {
        "data": str(Path(config.data).resolve()),
        "weights": str(weights),
        "hyp": str(hyp),
        "imgsz": config.imgsz,
        "batch_size": config.batch_size,
        "epochs": config.epochs,
        "project": str(config.project),
        "name": config.name,
        "device": config.device,
        "workers": config.workers,
        "seed": config.seed,
    }
    for key, value in overrides.items():
        setattr(opt, key, value)
    return opt


# --- MLflow logging -----------------------------------------------------------------


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
    config: TrainConfig,
    hyp: dict[str, Any],
    dataset_version: str,
    weights_sha256: str,
    data: Path,
) -> None:
    from mlflow.entities import Param

    params = {k: v for k, v in asdict(config).items() if k not in ("register", "experiment", "weights_sha256")}
    params |= {"dataset_version": dataset_version, "initial_weights_sha256": weights_sha256}
    params |= {k: v for k, v in hyp.items() if k not in params}
    mlflow_client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
    mlflow_client.log_artifact(run_id, str(data), "dataset")
    manifest = data.parent / "manifest.json"
    if manifest.is_file():
        mlflow_client.log_artifact(run_id, str(manifest), "dataset")


def log_outputs(mlflow_client: MlflowClient, run_id: str, save_dir: Path) -> str:
    """Log plots and weights; record each checkpoint's sha256 as a tag. Returns best.pt's sha256."""
    for name in RESULT_FILES:
        if (save_dir / name).is_file():
            mlflow_client.log_artifact(run_id, str(save_dir / name))
    best = save_dir / "weights" / "best.pt"
    if not best.is_file():
        raise TrainingError(f"Training wrote no {best}")
    for artifact_path, tag in CHECKSUM_TAGS.items():
        weights = save_dir / artifact_path
        if weights.is_file():
            mlflow_client.log_artifact(run_id, str(weights), "weights")
            mlflow_client.set_tag(run_id, tag, sha256_of(weights))
    return sha256_of(best)


def register_best(mlflow_client: MlflowClient, run_id: str, name: str, best_sha256: str) -> str:
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):  # already registered: add a version
        mlflow_client.create_registered_model(name)
    version = mlflow_client.create_model_version(
        name, source=f"runs:/{run_id}/weights", run_id=run_id, tags={"best_sha256": best_sha256}
    )
    logger.info("Registered runs:/%s/weights/best.pt as model %s version %s", run_id, name, version.version)
    return version.version


# --- run lifecycle --------------------------------------------------------------------


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (docker stop, Celery revoke, kill) into TrainingTerminated while training."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise TrainingTerminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def tracked_run(mlflow_client: MlflowClient, run_id: str) -> Iterator[None]:
    """End the run FINISHED, KILLED (interrupt/SIGTERM) or FAILED (exception): never left RUNNING."""
    try:
        with sigterm_as_interrupt():
            yield
    except KeyboardInterrupt:
        mlflow_client.set_tag(run_id, "error", "interrupted")
        mlflow_client.set_terminated(run_id, "KILLED")
        raise
    except BaseException as exc:
        mlflow_client.set_tag(run_id, "error", f"{type(exc).__name__}: {exc}"[:5000])
        mlflow_client.set_terminated(run_id, "FAILED")
        raise
    mlflow_client.set_terminated(run_id, "FINISHED")


def train_detector(config: TrainConfig) -> TrainResult:
    """Train YOLOv5 on ``config.data`` and track everything in one MLflow run (see module docstring)."""
    prepare_yolov5()
    weights, weights_sha256 = resolve_initial_weights(config.weights, config.weights_sha256)
    mlflow_client = client()
    experiment_id = get_or_create_experiment(config.experiment)
    data = Path(config.data).resolve()
    tags = {"task": "train", "initial_weights": config.weights, "data": str(data)}
    run_id = mlflow_client.create_run(experiment_id, run_name=config.name, tags=tags).info.run_id
    logger.info("MLflow run %s (experiment %s)", run_id, experiment_id)
    with tracked_run(mlflow_client, run_id):
        data_dict, manifest = load_data_files(data)
        dataset_version = config.dataset_version or (data.parent.name if manifest else "")
        mlflow_client.set_tag(run_id, "dataset_version", dataset_version)
        hyp_file = Path(config.hyp or default_hyp())
        log_inputs(
            mlflow_client, run_id, config, yaml.safe_load(hyp_file.read_text()), dataset_version, weights_sha256, data
        )
        epoch_logger = MlflowEpochLogger(mlflow_client, run_id, class_names(data_dict))
        save_dir = run_yolov5_train(build_opt(config, weights, hyp_file), epoch_logger, weights, weights_sha256)
        best_sha256 = log_outputs(mlflow_client, run_id, save_dir)
        model_version = register_best(mlflow_client, run_id, config.register, best_sha256) if config.register else None
    return TrainResult(
        run_id=run_id,
        save_dir=save_dir,
        best=save_dir / "weights" / "best.pt",
        best_sha256=best_sha256,
        final_metrics=epoch_logger.final,
        model_version=model_version,
    )


def run_yolov5_train(opt: Any, epoch_logger: MlflowEpochLogger, weights: Path, weights_sha256: str) -> Path:
    import yolov5.train as yolo_train
    from yolov5.utils.callbacks import Callbacks

    # A fresh Callbacks: yolov5's main() default instance is shared between calls.
    callbacks = Callbacks()
    callbacks.register_action("on_fit_epoch_end", "mlflow", epoch_logger.on_fit_epoch_end)
    callbacks.register_action("on_train_end", "mlflow", epoch_logger.on_train_end)
    with full_checkpoint_loading(weights, weights_sha256), restore_torch_determinism():
        yolo_train.main(opt, callbacks)
    return Path(opt.save_dir)
