"""Train the YOLOv5 detector with the ``yolov5`` package, tracked in one MLflow run.

Parameters, hyperparameters and the dataset manifest are logged before
training starts; losses and metrics are logged at the end of every epoch from a
yolov5 callback (live, step = epoch); weights, plots and checksums at the end
(what is logged: ``mlops.training_log``).
The run always ends FINISHED, FAILED (exception) or KILLED (Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from indexing.vision.weights.checksums import WeightsFile
from indexing.vision.weights.resolve import resolve_weights
from indexing.vision.yolov5_env import full_checkpoint_loading, prepare_yolov5, restore_torch_determinism
from mlops.tracking import client, get_or_create_experiment
from mlops.training_log import MlflowEpochLogger, log_inputs, log_results, log_weights, register_best

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)


class TrainingError(Exception):
    """Training cannot start (no dataset) or did not produce weights; weights that fail are a WeightsError."""


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


# --- inputs -----------------------------------------------------------------------


def resolve_initial_weights(spec: str, expected_sha256: str | None = None) -> WeightsFile:
    """The starting checkpoint as a verified local file, by the detector's own resolver.

    Always verified (``required``): DETECTOR_ALLOW_UNVERIFIED_WEIGHTS is the server's
    switch, and yolov5 unpickles these weights with the safety check turned off.
    """
    weights = resolve_weights(spec, expected_sha256 or "", required=True)
    logger.info("Starting weights %s at %s (sha256 %s)", weights.source, weights.path, weights.sha256)
    return weights


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
    weights = resolve_initial_weights(config.weights, config.weights_sha256)
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
        hyp = yaml.safe_load(hyp_file.read_text())
        log_inputs(mlflow_client, run_id, asdict(config), hyp, dataset_version, weights.sha256, data)
        epoch_logger = MlflowEpochLogger(mlflow_client, run_id, class_names(data_dict))
        save_dir = run_yolov5_train(build_opt(config, weights.path, hyp_file), epoch_logger, weights)
        log_results(mlflow_client, run_id, save_dir)
        best = save_dir / "weights" / "best.pt"
        if not best.is_file():
            raise TrainingError(f"Training wrote no {best}")
        best_sha256 = log_weights(mlflow_client, run_id, save_dir)
        model_version = register_best(mlflow_client, run_id, config.register, best_sha256) if config.register else None
    return TrainResult(
        run_id=run_id,
        save_dir=save_dir,
        best=best,
        best_sha256=best_sha256,
        final_metrics=epoch_logger.final,
        model_version=model_version,
    )


def run_yolov5_train(opt: Any, epoch_logger: MlflowEpochLogger, weights: WeightsFile) -> Path:
    import yolov5.train as yolo_train
    from yolov5.utils.callbacks import Callbacks

    # A fresh Callbacks: yolov5's main() default instance is shared between calls.
    callbacks = Callbacks()
    callbacks.register_action("on_fit_epoch_end", "mlflow", epoch_logger.on_fit_epoch_end)
    callbacks.register_action("on_train_end", "mlflow", epoch_logger.on_train_end)
    with full_checkpoint_loading(weights.path, weights.sha256), restore_torch_determinism():
        yolo_train.main(opt, callbacks)
    return Path(opt.save_dir)
