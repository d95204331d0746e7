"""evaluate_retrieval on a few really indexed COCO128 images, checked against a brute-force computation."""

from __future__ import annotations

import math
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from mlflow import MlflowClient

from indexing.catalog import ingest
from indexing.models import Crop, Dataset
from indexing.pipeline import jobs
from mlops.retrieval import RetrievalEvaluationError, evaluate_retrieval, find_dataset, parse_ks

KS = (1, 5, 10)


@pytest.fixture
def indexed_dataset(db, real_models, coco_subset_files: list[Path]) -> Dataset:
    dataset = Dataset.objects.create(name="retrieval-sample", version="version_1", split_names=["train", "test"])
    files = [(path, "train") for path in coco_subset_files[:5]] + [(path, "test") for path in coco_subset_files[5:8]]
    ingest.ingest_files(dataset, files)
    job, ids = jobs.create_job(dataset)
    jobs.run_job(job, ids)
    return dataset


@pytest.fixture
def mlflow_store(settings, tmp_path: Path) -> MlflowClient:
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    settings.MLFLOW_TRACKING_URI = uri
    settings.MLFLOW_EXPERIMENT_ID = ""
    return MlflowClient(uri, registry_uri=uri)


def brute_force(dataset: Dataset, split: str | None, ks: tuple[int, ...]) -> dict[str, float]:
    """The metrics by their definition, one query at a time, in plain Python."""
    crops = [c for c in Crop.objects.filter(image__dataset=dataset, is_active=True).select_related("image")]

    def unit(vector: object) -> list[float]:
        norm = math.sqrt(sum(float(x) * float(x) for x in vector))
        return [float(x) / norm for x in vector]

    vectors = {c.id: unit(c.embedding) for c in crops}
    per_query: dict[str, list[dict[str, float]]] = {}
    for query in crops:
        if split and query.image.split != split:
            continue
        others = [c for c in crops if c.id != query.id]
        relevant_total = sum(c.label == query.label for c in others)
        if relevant_total == 0:
            continue

        def score(c: Crop, q: Crop = query) -> float:
            return sum(a * b for a, b in zip(vectors[q.id], vectors[c.id], strict=True))

        ranked = sorted(others, key=lambda c: (-score(c), c.id))
        values = {}
        for k in ks:
            hits = sum(c.label == query.label for c in ranked[:k])
            values[f"precision_at_{k}"] = hits / k
            values[f"recall_at_{k}"] = hits / relevant_total
        per_query.setdefault("", []).append(values)
        per_query.setdefault("_" + query.label.replace(" ", "_"), []).append(values)
    expected = {}
    for suffix, rows in per_query.items():
        for key in rows[0]:
            expected[key + suffix] = sum(r[key] for r in rows) / len(rows)
    return expected


def test_retrieval_metrics_match_brute_force_and_are_tracked(
    indexed_dataset: Dataset, mlflow_store: MlflowClient
) -> None:
    crops = Crop.objects.filter(image__dataset=indexed_dataset).order_by("id")
    assert crops.filter(image__split="train").count() >= 5 and crops.filter(image__split="test").count() >= 2
    # Inactive crops are neither queries nor results.
    Crop.objects.filter(pk=crops.filter(image__split="test").first().pk).update(is_active=False)
    # A label no other crop has: that query cannot be answered and is left out of the averages.
    Crop.objects.filter(pk=crops.filter(image__split="train", label="person").first().pk).update(label="bicycle")

    out = StringIO()
    call_command(
        "evaluate_retrieval",
        "--dataset",
        "retrieval-sample:version_1",
        "--split",
        "train",
        "--k",
        "1,5,10",
        "--experiment",
        "retrieval-test",
        stdout=out,
    )
    (run,) = mlflow_store.search_runs([mlflow_store.get_experiment_by_name("retrieval-test").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.info.run_id in out.getvalue() and "precision_at_5:" in out.getvalue()

    expected = brute_force(indexed_dataset, "train", KS)
    logged = run.data.metrics
    labels = {key.removeprefix("precision_at_1_") for key in expected if key.startswith("precision_at_1_")}
    assert labels == {"person", "car"}  # what yolov5n finds in these images
    assert {k for k in logged if not k.startswith("queries_")} == set(expected)
    for key, value in expected.items():
        assert logged[key] == pytest.approx(value, abs=1e-9), key
    for label in labels:
        assert logged[f"queries_{label}"] >= 1

    params = run.data.params
    active = Crop.objects.filter(image__dataset=indexed_dataset, is_active=True)
    assert params["dataset"] == "retrieval-sample:version_1" and params["split"] == "train"
    assert params["queries_without_relevant"] == "1"
    assert params["k"] == "1,5,10" and params["gallery_size"] == str(active.count())
    assert int(params["queries"]) == sum(logged[f"queries_{label}"] for label in labels)
    assert params["detector_version"] == active.first().detector_version
    assert params["detector_version"].startswith("yolov5n.pt@")
    assert params["embedder_version"] == active.first().embedder_version

    # All splits as queries: still the definition, computed in the same run of the service.
    result = evaluate_retrieval(indexed_dataset, split=None, ks=(3,))
    everything = brute_force(indexed_dataset, None, (3,))
    assert set(result.metrics) - {k for k in result.metrics if k.startswith("queries_")} == set(everything)
    for key, value in everything.items():
        assert result.metrics[key] == pytest.approx(value, abs=1e-9), key


def test_dataset_lookup_and_arguments(db, mlflow_store: MlflowClient) -> None:
    first = Dataset.objects.create(name="shop", version="version_1")
    Dataset.objects.create(name="shop", version="version_2")
    assert find_dataset(str(first.pk)) == first
    assert find_dataset("shop:version_1") == first
    with pytest.raises(RetrievalEvaluationError, match="several versions"):
        find_dataset("shop")
    with pytest.raises(RetrievalEvaluationError, match="No dataset"):
        find_dataset("nope")
    with pytest.raises(RetrievalEvaluationError, match="index it first"):
        evaluate_retrieval("shop:version_1")
    assert parse_ks("10,1,5,5") == (1, 5, 10)
    for bad in ("", "0", "a,b"):
        with pytest.raises(RetrievalEvaluationError):
            parse_ks(bad)
