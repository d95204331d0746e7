"""Train the YOLOv5 detector on a dataset version, tracked in MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.vision.errors import ModelLoadError
from mlops.training import TrainConfig, TrainingError, train_detector


class Command(BaseCommand):
    help = "Train YOLOv5 (yolov5 package) and log params, per-epoch metrics, weights and plots to one MLflow run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", required=True, type=Path, help="data.yaml of a dataset version")
        parser.add_argument("--weights", default="yolov5s.pt", help="Starting checkpoint: path, runs:/ or models:/")
        parser.add_argument("--weights-sha256", "--weights_sha256", dest="weights_sha256")
        parser.add_argument("--imgsz", "--img", type=int, default=640)
        parser.add_argument("--batch-size", "--batch_size", dest="batch_size", type=int, default=16)
        parser.add_argument("--epochs", type=int, default=80)
        parser.add_argument("--project", type=Path, default=Path("runs/train"))
        parser.add_argument("--name", default="yolov5_coco_subset")
        parser.add_argument("--device", default="", help="cuda device (0, 0,1) or cpu; empty = auto")
        parser.add_argument("--workers", type=int, default=8)
        parser.add_argument("--hyp", type=Path, help="Hyperparameter yaml (default: yolov5's hyp.scratch-low.yaml)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--coco_subset_data_version",
            "--coco-subset-data-version",
            "--dataset-version",
            dest="dataset_version",
            default="",
            help="Dataset version name (default: the data.yaml's folder name)",
        )
        parser.add_argument("--register", help="Register best.pt as a version of this model name")
        parser.add_argument("--experiment", help="MLflow experiment name (default: MLFLOW_EXPERIMENT_ID or ours)")

    def handle(self, *args: Any, **opts: Any) -> None:
        fields = TrainConfig.__dataclass_fields__
        config = TrainConfig(**{k: v for k, v in opts.items() if k in fields})
        try:
            result = train_detector(config)
        # Weights that cannot be resolved, fetched or verified are all a ModelLoadError (WeightsError).
        except (TrainingError, ModelLoadError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"MLflow run {result.run_id}: weights {result.best}"))
        self.stdout.write(
            f"best.pt sha256 {result.best_sha256}; use DETECTOR_WEIGHTS=runs:/{result.run_id}/weights/best.pt"
        )
        for key, value in result.final_metrics.items():
            self.stdout.write(f"{key}: {value:.6f}")
        if result.model_version:
            self.stdout.write(f"Registered models:/{config.register}/{result.model_version}")
