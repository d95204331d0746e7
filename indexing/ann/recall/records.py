"""A build's recall on record (IndexBuild), and the re-check an index update runs on a schedule.

Recall drifts as a collection grows: an update adds vectors to the served index with
its knobs unchanged. So once ANN_RECALL_RECHECK_EVERY vectors were added since the last
measurement, the update measures again before adding its crops, the new crops serving
as held-out queries (they are of the collection, and not in the index yet), and raises
the knobs if the target is missed. When the knobs cannot reach it, the update says so
and the next update is a full build (builds.rebuild_reason), which may pick another kind.
"""

from __future__ import annotations

import time

import faiss
import numpy as np
from django.conf import settings

from indexing.ann import faiss_index as ann
from indexing.ann.recall.measure import MIN_TUNING_SECONDS, BuildRecall, tune
from indexing.ann.recall.sample import Measurement, draw_sample
from indexing.models import Crop, IndexBuild
from indexing.vectors import load_active_vectors

# What the filtered and tail search paths (search.query.filtered, search.query.candidates) return: exact by design.
EXACT_PATHS = {
    "filtered": "exact by design: a filter keeping at most SEARCH_FILTER_EXACT_MAX crops is ranked over all of them",
    "tail": "exact by design: crops the build does not hold yet are ranked by pgvector over every one (no ANN index)",
    "wide_filters": "the index's widening search: the build's recall applies (not sampled per filter)",
}


def record(build: IndexBuild, outcome: BuildRecall, *, size: int) -> None:
    """Copy ``outcome`` onto ``build`` (saved by the caller, with the rest of the build)."""
    m: Measurement | None = outcome.measurement
    exact = outcome.report.get("exact", False)
    build.recall_at_10 = 1.0 if exact else (round(m.recall, 4) if m else None)
    build.recall_queries = m.queries if m else 0
    build.latency_p50_ms = round(m.p50_ms, 3) if m else None
    build.latency_p95_ms = round(m.p95_ms, 3) if m else None
    build.recall_measured_size = size
    build.recall_report = {
        **outcome.report,
        **(
            {"recall_held": round(m.recall_held, 4), "recall_copies": round(m.recall_copies, 4), "held": m.held}
            if m and not exact
            else {}
        ),
    }


def inherit(build: IndexBuild, parent: IndexBuild) -> None:
    """An update that does not re-check keeps its parent's measurement (and says how old it is)."""
    for name in ("recall_at_10", "recall_queries", "latency_p50_ms", "latency_p95_ms", "recall_measured_size"):
        setattr(build, name, getattr(parent, name))
    build.recall_report = {**(parent.recall_report or {}), "inherited_from": parent.pk}


def recheck_due(current: IndexBuild, *, size_after: int) -> bool:
    if current.kind == ann.FLAT or size_after < settings.ANN_RECALL_MIN_SIZE:
        return False
    return size_after - current.recall_measured_size >= settings.ANN_RECALL_RECHECK_EVERY


def recheck(
    index: faiss.Index, current: IndexBuild, *, news_ids: np.ndarray, news_vectors: np.ndarray
) -> tuple[dict, BuildRecall]:
    """Measure ``index`` (``current``'s, before the news are added) with news as held-out queries; raise its knobs.

    Returns the knobs to serve and what was measured. Exact neighbours are over the
    active crops the index holds (hidden ones it still holds are skipped, as search does).
    """
    started = time.perf_counter()
    crops = Crop.objects.filter(embedder_version=current.embedder_version, pk__lte=current.max_crop_id)
    base_ids, base_vectors = load_active_vectors(crops)
    keep = ~np.isin(base_ids, news_ids)
    base_ids, base_vectors = base_ids[keep], base_vectors[keep]
    held = min(settings.ANN_RECALL_SAMPLE // 2, len(news_ids))
    rows = np.sort(np.random.default_rng(len(base_ids)).choice(len(news_ids), size=held, replace=False))
    held_out = np.asarray(news_vectors[rows], dtype=np.float32)
    sample = draw_sample(base_vectors, base_ids, held_out, copies=settings.ANN_RECALL_SAMPLE - held)
    build_s = sum(a.get("build_s", 0.0) for a in (current.recall_report or {}).get("attempts", []))
    deadline = time.perf_counter() + max(settings.ANN_RECALL_MAX_SHARE * build_s, MIN_TUNING_SECONDS)
    tuning = tune(index, sample, params=dict(current.params), deadline=deadline, valid_ids=base_ids)
    config = ann.IndexConfig(current.kind, tuning.params)
    said = f"re-checked at {len(base_ids)} vectors: {current.kind} {tuning.params}"
    report = {
        "target": settings.ANN_RECALL_TARGET,
        "reached": tuning.reached,
        "exact": False,
        "recheck": True,
        "recheck_missed": not tuning.reached,
        "truth_seconds": round(sample.truth_seconds, 3),
        "seconds": round(time.perf_counter() - started, 3),
        "attempts": [{"kind": current.kind, "start": dict(current.params), "params": tuning.params,
                      "reached": tuning.reached, "reason": tuning.reason, "build_s": build_s, "steps": tuning.steps}],
        "note": said + ("" if tuning.reached else f"; target missed: {tuning.reason}; the next update rebuilds"),
    }  # fmt: skip
    return tuning.params, BuildRecall(config=config, measurement=tuning.measurement, report=report)


def summary(build: IndexBuild | None) -> dict:
    """What a build measured of its own recall, for the admin, /healthz (staff) and the API."""
    if build is None:
        return {"build": None, "note": "no index build yet: every search is ranked exactly by pgvector", **EXACT_PATHS}
    report = build.recall_report or {}
    return {
        "build": build.pk,
        "kind": build.kind,
        "params": build.params,
        "size": build.size,
        "recall_at_10": build.recall_at_10,
        "recall_queries": build.recall_queries,
        "latency_p50_ms": build.latency_p50_ms,
        "latency_p95_ms": build.latency_p95_ms,
        "measured_at_size": build.recall_measured_size,
        "target": report.get("target", settings.ANN_RECALL_TARGET),
        "reached": report.get("reached"),
        "exact": report.get("exact", False),
        "note": report.get("note", "not measured (built before builds measured their recall)"),
        **EXACT_PATHS,
    }
