"""Evaluate detector weights on a dataset split, tracked in MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.vision.errors import ModelLoadError
from mlops.evaluation import EvaluationError, evaluate_detector
from mlops.training import TrainingError


class Command(BaseCommand):
    help = "Run YOLOv5 validation and log mAP50, mAP50-95, precision, recall, per-class AP and plots to MLflow."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--weights", required=True, help="Local .pt, runs:/<id>/weights/best.pt or models:/...")
        parser.add_argument("--weights-sha256", "--weights_sha256", dest="weights_sha256")
        parser.add_argument("--data", required=True, type=Path)
        parser.add_argument("--task", default="test", choices=["train", "val", "test"])
        parser.add_argument("--imgsz", "--img", type=int, default=640)
        parser.add_argument("--batch-size", "--batch_size", dest="batch_size", type=int, default=32)
        parser.add_argument("--device", default="")
        parser.add_argument("--workers", type=int, default=8)
        parser.add_argument("--conf-thres", "--conf_thres", dest="conf_thres", type=float, default=0.001)
        parser.add_argument("--iou-thres", "--iou_thres", dest="iou_thres", type=float, default=0.6)
        parser.add_argument("--project", type=Path, default=Path("runs/eval"))
        parser.add_argument("--name", default="exp")
        parser.add_argument("--experiment", help="MLflow experiment name")

    def handle(self, *args: Any, **opts: Any) -> None:
        keys = ("weights", "weights_sha256", "data", "task", "imgsz", "batch_size", "device", "workers",
                "conf_thres", "iou_thres", "project", "name", "experiment")  # fmt: skip
        try:
            result = evaluate_detector(**{k: opts[k] for k in keys})
        # Weights that cannot be resolved, fetched or verified are all a ModelLoadError (WeightsError).
        except (EvaluationError, TrainingError, ModelLoadError) as exc:
            raise CommandError(str(exc)) from exc
        link = f" (training run {result.training_run_id})" if result.training_run_id else ""
        self.stdout.write(self.style.SUCCESS(f"MLflow run {result.run_id}{link}"))
        for key, value in result.metrics.items():
            self.stdout.write(f"{key}: {value:.6f}")
