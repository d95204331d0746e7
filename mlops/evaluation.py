"""Evaluate detector weights on a dataset split with yolov5's val, tracked in MLflow.

The evaluation run is linked to the training run that produced the weights
(tag ``training_run_id``) when the weights come from an MLflow URI or their
sha256 matches a training run's ``best_sha256`` tag.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexing.vision.weights.checksums import file_sha256
from indexing.vision.weights.mlflow import is_mlflow_uri
from indexing.vision.weights.resolve import resolve_weights
from indexing.vision.yolov5_env import full_checkpoint_loading, prepare_yolov5, restore_torch_determinism
from mlops.tracking import client, get_or_create_experiment
from mlops.training import class_names, load_data_files, tracked_run

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

CURVE_FILES = ("confusion_matrix.png", "PR_curve.png", "F1_curve.png", "P_curve.png", "R_curve.png", "results.html")


class EvaluationError(Exception):
    """The evaluation cannot run as asked (no such split, an empty one); weights that fail are a WeightsError."""


@dataclass
class EvalResult:
    run_id: str
    metrics: dict[str, float]
    # What yolov5.val.run returned: (P, R, mAP50, mAP50-95, box, obj, cls losses).
    results: tuple[float, ...]
    save_dir: Path
    training_run_id: str | None = None
    per_class_targets: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalWeights:
    path: Path
    sha256: str
    training_run_id: str | None


def find_training_run(mlflow_client: MlflowClient, sha256: str) -> str | None:
    experiment_ids = [e.experiment_id for e in mlflow_client.search_experiments()]
    runs = mlflow_client.search_runs(experiment_ids, filter_string=f"tags.best_sha256 = '{sha256}'", max_results=1)
    return runs[0].info.run_id if runs else None


def resolve_eval_weights(mlflow_client: MlflowClient, spec: str, expected_sha256: str | None) -> EvalWeights:
    """The weights by the one resolver (always verified, as for training), and the run that trained them."""
    pinned, training_run_id = expected_sha256 or "", None
    path = Path(spec).expanduser()
    if not is_mlflow_uri(spec) and path.is_file():
        sha256 = file_sha256(path)
        training_run_id = find_training_run(mlflow_client, sha256)
        if training_run_id:
            # Its checksum is the one our training recorded: as trusted as a runs:/ download.
            logger.info("%s is best.pt of training run %s", path, training_run_id)
            pinned = pinned or sha256
    weights = resolve_weights(spec, pinned, required=True)
    return EvalWeights(weights.path, weights.sha256, training_run_id or weights.run_id or None)


def check_split(data: Path, data_dict: dict[str, Any], task: str) -> None:
    split = data_dict.get(task)
    if not split:
        raise EvaluationError(f"{data} has no {task!r} split")
    folder = Path(data_dict.get("path") or data.parent) / split
    if folder.is_dir() and not any(folder.iterdir()):
        raise EvaluationError(f"The {task!r} split of {data} is empty ({folder}); evaluate another --task")


def metrics_from(
    results: tuple[float, ...], maps: Any, map50s: Any, names: list[str], targets: dict[int, int]
) -> dict[str, float]:
    metrics = {
        "precision": float(results[0]),
        "recall": float(results[1]),
        "mAP50": float(results[2]),
        "mAP50-95": float(results[3]),
    }
    # yolov5 fills classes without labels with the overall mean: only classes present get a per-class AP.
    for class_id, count in targets.items():
        key = names[class_id].replace(" ", "_")
        metrics[f"ap50_{key}"] = float(map50s[class_id])
        metrics[f"ap50-95_{key}"] = float(maps[class_id])
        metrics[f"targets_{key}"] = float(count)
    return metrics


def evaluate_detector(
    weights: str,
    data: Path,
    task: str = "test",
    imgsz: int = 640,
    batch_size: int = 32,
    device: str = "",
    workers: int = 8,
    project: Path = Path("runs/eval"),
    name: str = "exp",
    experiment: str | None = None,
    weights_sha256: str | None = None,
    conf_thres: float = 0.001,
    iou_thres: float = 0.6,
) -> EvalResult:
    """Run yolov5 val on the ``task`` split of ``data``; log metrics and plots to a new MLflow run."""
    prepare_yolov5()
    data = Path(data).resolve()
    data_dict, manifest = load_data_files(data)
    check_split(data, data_dict, task)
    mlflow_client = client()
    resolved = resolve_eval_weights(mlflow_client, weights, weights_sha256)
    tags = {"task": f"evaluate:{task}", "weights": weights, "weights_sha256": resolved.sha256, "data": str(data)}
    if resolved.training_run_id:
        tags["training_run_id"] = resolved.training_run_id
    if manifest:
        tags["dataset_version"] = data.parent.name
    run_id = mlflow_client.create_run(get_or_create_experiment(experiment), run_name=name, tags=tags).info.run_id
    with tracked_run(mlflow_client, run_id):
        for key, value in {"split": task, "imgsz": imgsz, "batch_size": batch_size, "conf_thres": conf_thres,
                           "iou_thres": iou_thres}.items():  # fmt: skip
            mlflow_client.log_param(run_id, key, value)
        save_dir, (results, maps, map50s), targets = run_yolov5_val(
            resolved, data, task, imgsz, batch_size, device, workers, project, name, conf_thres, iou_thres
        )
        names = class_names(data_dict)
        metrics = metrics_from(results, maps, map50s, names, targets)
        log_metrics(mlflow_client, run_id, metrics, save_dir)
    return EvalResult(
        run_id=run_id,
        metrics=metrics,
        results=tuple(float(r) for r in results),
        save_dir=save_dir,
        training_run_id=resolved.training_run_id,
        per_class_targets={names[c]: n for c, n in targets.items()},
    )


def log_metrics(mlflow_client: MlflowClient, run_id: str, metrics: dict[str, float], save_dir: Path) -> None:
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    mlflow_client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()])
    for file in CURVE_FILES:
        if (save_dir / file).is_file():
            mlflow_client.log_artifact(run_id, str(save_dir / file))


def run_yolov5_val(
    weights: EvalWeights,
    data: Path,
    task: str,
    imgsz: int,
    batch_size: int,
    device: str,
    workers: int,
    project: Path,
    name: str,
    conf_thres: float,
    iou_thres: float,
) -> tuple[Path, tuple[Any, Any, Any], dict[int, int]]:
    import yolov5.val as yolo_val
    from yolov5.utils.callbacks import Callbacks
    from yolov5.utils.general import increment_path

    # Decide the output folder here (yolov5 would increment it silently) so the artifacts can be found.
    save_dir = Path(increment_path(Path(project) / name))
    targets: dict[int, int] = {}

    def on_val_end(
        nt: Any, tp: Any, fp: Any, p: Any, r: Any, f1: Any, ap: Any, ap50: Any, ap_class: Any, cm: Any
    ) -> None:
        targets.update({int(c): int(nt[c]) for c in ap_class})

    callbacks = Callbacks()  # fresh: val.run's default instance is shared between calls
    callbacks.register_action("on_val_end", "mlflow", on_val_end)
    with full_checkpoint_loading(weights.path, weights.sha256), restore_torch_determinism():
        results, maps, map50s, _ = yolo_val.run(
            data=str(data),
            weights=str(weights.path),
            batch_size=batch_size,
            imgsz=imgsz,
            task=task,
            device=device,
            workers=workers,
            project=str(save_dir.parent),
            name=save_dir.name,
            exist_ok=True,
            half=False,
            plots=True,
            callbacks=callbacks,
            conf_thres=conf_thres,
            iou_thres=iou_thres,
        )
    return save_dir, (results, maps, map50s), targets
