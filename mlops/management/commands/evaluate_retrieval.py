"""Precision@k and recall@k of an indexed dataset's crops, tracked in MLflow."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mlops.retrieval import RetrievalEvaluationError, evaluate_retrieval


class Command(BaseCommand):
    help = (
        "Use every active crop of a dataset split as a query against all the dataset's active crops "
        "(exact cosine, excluding itself; relevant = same label) and log precision@k and recall@k, "
        "overall and per label, to MLflow."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="Dataset id, name:version, or name (one version)")
        parser.add_argument("--split", default="all", help="Split whose crops are the queries: all, train, val, test")
        parser.add_argument("--k", default="1,5,10", help="Comma-separated cut-offs (default 1,5,10)")
        parser.add_argument("--experiment", help="MLflow experiment name")
        parser.add_argument("--run-name", "--run_name", dest="run_name", help="MLflow run name")

    def handle(self, *args: Any, **opts: Any) -> None:
        split = None if opts["split"] == "all" else opts["split"]
        try:
            result = evaluate_retrieval(
                opts["dataset"], split=split, ks=opts["k"], experiment=opts["experiment"], run_name=opts["run_name"]
            )
        except RetrievalEvaluationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"MLflow run {result.run_id}: {result.dataset}, split {result.split or 'all'}, "
                f"{result.queries} queries against {result.gallery} crops"
            )
        )
        for key, value in result.params.items():
            self.stdout.write(f"param {key}: {value}")
        for key, value in result.metrics.items():
            self.stdout.write(f"{key}: {value:.6f}")
