"""Retrieval quality of an indexed dataset: precision@k and recall@k, tracked in MLflow.

Every active crop of the dataset in the chosen split is a query against all the
dataset's active crops (every split) except itself, ranked by cosine similarity
of the stored embeddings, exactly (numpy, no ANN index): the numbers measure the
detector + embedder, not the index. A retrieved crop is relevant when it has the
query's label.

- precision@k = relevant crops in the top k / k
- recall@k = relevant crops in the top k / all other crops with the query's label

Both are averaged over queries (macro), overall and per label. A query whose label
no other crop has cannot be answered and is left out of every average (counted in
the ``queries_without_relevant`` param). Ties in similarity go to the lower crop id,
so the numbers are deterministic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from indexing.models import Crop, Dataset
from mlops.tracking import client, get_or_create_experiment
from mlops.training import tracked_run

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

DEFAULT_KS = (1, 5, 10)
METRICS_PER_BATCH = 1000  # MLflow's log_batch limit
QUERY_CHUNK = 512  # queries scored at once: QUERY_CHUNK x gallery float64 scores in memory


class RetrievalEvaluationError(Exception):
    """The evaluation cannot run as asked (unknown dataset, no crops, bad k)."""


@dataclass
class RetrievalResult:
    run_id: str
    dataset: str
    split: str | None
    ks: tuple[int, ...]
    queries: int  # queries that count (their label has at least one other crop)
    gallery: int
    metrics: dict[str, float]
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CropTable:
    ids: np.ndarray  # int64, ascending
    labels: np.ndarray  # str
    splits: np.ndarray  # str
    vectors: np.ndarray  # float64, L2-normalised rows


def find_dataset(spec: str) -> Dataset:
    """``<id>``, ``<name>:<version>`` or ``<name>`` (only when one version of it exists)."""
    spec = spec.strip()
    if spec.isdigit() and (found := Dataset.objects.filter(pk=int(spec)).first()):
        return found
    name, _, version = spec.partition(":")
    matches = list(Dataset.objects.filter(name=name, **({"version": version} if version else {})))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(str(d) for d in Dataset.objects.all()[:20]) or "none"
        raise RetrievalEvaluationError(f"No dataset {spec!r}; known datasets: {known}")
    versions = ", ".join(str(d) for d in matches)
    raise RetrievalEvaluationError(f"Dataset {spec!r} has several versions ({versions}); say which: name:version")


def parse_ks(text: str | Sequence[int]) -> tuple[int, ...]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()] if isinstance(text, str) else list(text)
    except ValueError as exc:
        raise RetrievalEvaluationError(f"--k expects comma-separated positive integers, got {text!r}") from exc
    if not values or any(k < 1 for k in values):
        raise RetrievalEvaluationError(f"--k expects comma-separated positive integers, got {text!r}")
    return tuple(sorted(set(values)))


def load_crops(dataset: Dataset) -> CropTable:
    """The dataset's active crops, by id, with normalised float64 embeddings."""
    rows = list(
        Crop.objects.filter(image__dataset=dataset, is_active=True)
        .order_by("id")
        .values_list("id", "label", "image__split", "embedding")
    )
    if not rows:
        return CropTable(np.empty(0, np.int64), np.empty(0, str), np.empty(0, str), np.empty((0, 0)))
    ids, labels, splits, vectors = zip(*rows, strict=True)
    matrix = np.asarray(np.stack([np.asarray(v, dtype=np.float64) for v in vectors]))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = matrix / np.where(norms > 0, norms, 1.0)
    return CropTable(np.asarray(ids, np.int64), np.asarray(labels), np.asarray(splits), matrix)


def retrieval_metrics(table: CropTable, query_mask: np.ndarray, ks: Sequence[int]) -> tuple[dict[str, float], int]:
    """Macro precision@k / recall@k overall and per label; also the number of unanswerable queries."""
    ks = tuple(ks)
    n = len(table.ids)
    _, label_codes, label_counts = np.unique(table.labels, return_inverse=True, return_counts=True)
    relevant_total = label_counts[label_codes] - 1  # other crops with the same label
    answerable = query_mask & (relevant_total > 0)
    queries = np.flatnonzero(answerable)
    depth = min(max(ks), n - 1) if n > 1 else 0
    hits = np.zeros((len(queries), len(ks)), dtype=np.int64)  # relevant in top k, per query and k
    for start in range(0, len(queries), QUERY_CHUNK):
        chunk = queries[start : start + QUERY_CHUNK]
        scores = table.vectors[chunk] @ table.vectors.T
        scores[np.arange(len(chunk)), chunk] = -np.inf  # never retrieve the query itself
        # Stable sort of the negated scores: equal scores keep id order (the gallery is sorted by id).
        ranked = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
        relevant = label_codes[ranked] == label_codes[chunk][:, None]
        cumulative = np.cumsum(relevant, axis=1)
        for column, k in enumerate(ks):
            hits[start : start + len(chunk), column] = cumulative[:, min(k, depth) - 1] if depth else 0
    precision = hits / np.asarray(ks, dtype=np.float64)
    recall = hits / relevant_total[queries][:, None].astype(np.float64)
    metrics: dict[str, float] = {}
    query_labels = table.labels[queries]
    groups = [("", np.ones(len(queries), dtype=bool))]
    groups += [(f"_{label.replace(' ', '_')}", query_labels == label) for label in sorted(set(query_labels))]
    for suffix, rows in groups:
        if not rows.any():
            continue
        for column, k in enumerate(ks):
            metrics[f"precision_at_{k}{suffix}"] = float(precision[rows, column].mean())
            metrics[f"recall_at_{k}{suffix}"] = float(recall[rows, column].mean())
        if suffix:
            metrics[f"queries{suffix}"] = float(rows.sum())
    return metrics, int(query_mask.sum() - len(queries))


def evaluate_retrieval(
    dataset: str | Dataset,
    split: str | None = None,
    ks: str | Sequence[int] = DEFAULT_KS,
    experiment: str | None = None,
    run_name: str | None = None,
) -> RetrievalResult:
    """Compute precision@k and recall@k of ``dataset``'s crops (queries from ``split``) and log them to MLflow."""
    dataset = dataset if isinstance(dataset, Dataset) else find_dataset(str(dataset))
    ks = parse_ks(ks)
    table = load_crops(dataset)
    if len(table.ids) < 2:
        raise RetrievalEvaluationError(f"Dataset {dataset} has {len(table.ids)} active crops; index it first.")
    query_mask = table.splits == split if split else np.ones(len(table.ids), dtype=bool)
    if not query_mask.any():
        present = ", ".join(sorted(set(table.splits))) or "none"
        raise RetrievalEvaluationError(f"Dataset {dataset} has no active crops in split {split!r} (splits: {present})")
    started = time.perf_counter()
    metrics, unanswerable = retrieval_metrics(table, query_mask, ks)
    queries = int(query_mask.sum()) - unanswerable
    if not queries:
        raise RetrievalEvaluationError(f"No query in split {split!r} has another crop with its label in {dataset}")
    logger.info("Scored %d queries against %d crops in %.2f s", queries, len(table.ids), time.perf_counter() - started)
    versions = crop_versions(dataset)
    params = {
        "dataset": str(dataset),
        "dataset_id": str(dataset.pk),
        "split": split or "all",
        "k": ",".join(str(k) for k in ks),
        "queries": str(queries),
        "queries_without_relevant": str(unanswerable),
        "gallery_size": str(len(table.ids)),
        "embedder_version": versions["embedder_version"],
        "detector_version": versions["detector_version"],
    }
    mlflow_client = client()
    tags = {"task": "evaluate_retrieval", "dataset": str(dataset), "dataset_version": dataset.version}
    run_name = run_name or f"retrieval-{dataset.name}-{dataset.version}-{params['split']}"
    run_id = mlflow_client.create_run(get_or_create_experiment(experiment), run_name=run_name, tags=tags).info.run_id
    with tracked_run(mlflow_client, run_id):
        log_batch(mlflow_client, run_id, params, metrics)
    return RetrievalResult(run_id, str(dataset), split, ks, queries, len(table.ids), metrics, params)


def crop_versions(dataset: Dataset) -> dict[str, str]:
    """The detector and embedder versions of the dataset's active crops (comma-joined when mixed)."""
    crops = Crop.objects.filter(image__dataset=dataset, is_active=True)
    found = {}
    for key in ("detector_version", "embedder_version"):
        values = sorted(crops.order_by().values_list(key, flat=True).distinct())
        if len(values) > 1:
            logger.warning("Dataset %s mixes %d %s values: %s", dataset, len(values), key, ", ".join(values))
        found[key] = ",".join(values)[:500]  # MLflow's oldest param length limit
    return found


def log_batch(mlflow_client: MlflowClient, run_id: str, params: dict[str, str], metrics: dict[str, float]) -> None:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    mlflow_client.log_batch(run_id, params=[Param(key, value) for key, value in params.items()])
    entries = [Metric(key, value, now, 0) for key, value in metrics.items()]
    for start in range(0, len(entries), METRICS_PER_BATCH):  # many labels x ks can pass MLflow's batch limit
        mlflow_client.log_batch(run_id, metrics=entries[start : start + METRICS_PER_BATCH])
