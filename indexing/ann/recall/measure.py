"""Every build measures its recall on the collection's own vectors and tunes its search knobs to the target.

The chooser (indexing.ann.choice) picks a kind and starting knobs from the table
``bench/ann.py`` measured on one synthetic distribution; a real collection is another
one. So a full build (:func:`build_tuned`, from ``builds.publish_build``):

1. holds out ANN_RECALL_SAMPLE / 2 stored vectors, draws as many near-copies, and
   computes their exact neighbours by a flat scan (indexing.ann.recall.sample);
2. builds the chosen kind over the other vectors and raises its knobs (efSearch,
   nprobe, k_factor) a step at a time until both halves of the sample reach
   ANN_RECALL_TARGET by two standard errors (the chooser's margin);
3. when p95 latency passes ANN_RECALL_MAX_P95_MS, the knobs top out, recall
   stops improving, or the tuning time passes ANN_RECALL_MAX_SHARE of the build's,
   builds the next kind the table ranks (at most ANN_RECALL_MAX_KINDS), and says why;
4. adds the held-out vectors, so the index holds every crop.

Flat is exact by design: it is timed, not tuned. Updates re-check their recall every
ANN_RECALL_RECHECK_EVERY added vectors (:func:`recheck`), the new crops serving as the
held-out queries, before they are added.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import faiss
import numpy as np
from django.conf import settings

from indexing.ann import choice as ann_choice
from indexing.ann import faiss_index as ann
from indexing.ann.recall.sample import K, Measurement, RecallSample, draw_sample, hold_out, measure, near_copies

logger = logging.getLogger(__name__)

# Each knob's steps; a build starts at the table's value and moves up.
LADDERS = {
    "efSearch": (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024),
    "nprobe": tuple(2**i for i in range(0, 13)),
    "k_factor": tuple(2**i for i in range(0, 8)),
}
# Tuning may always take this long, however quick the build (small collections).
MIN_TUNING_SECONDS = 10.0
# Recall that gains less than this over two steps has plateaued (coarse codes, not too few probes).
PLATEAU = 0.002
# Queries a Flat build's latency is timed on (a 1M-vector scan takes ~20 ms each on two cores).
FLAT_TIMED = 50


@dataclass
class Tuning:
    params: dict
    measurement: Measurement
    reached: bool
    reason: str = ""
    steps: list[dict] = field(default_factory=list)


def reaches(m: Measurement, target: float) -> bool:
    """Both halves of the sample reach ``target`` by two standard errors (an empty half counts as reaching)."""
    held_ok = not m.held or ann_choice.surely_reaches(m.recall_held, target, m.held * K)
    copies = m.queries - m.held
    return held_ok and (not copies or ann_choice.surely_reaches(m.recall_copies, target, copies * K))


def next_params(index: faiss.Index, params: dict) -> dict | None:
    """One step up on the knob lowest on its ladder (k_factor first on ties: refining is cheap); None at the top."""
    current = {**ann.search_params(index), **params}
    ivf = ann.search_parts(index)[2]
    nlist = int(ivf.nlist) if ivf is not None else 0
    options = []
    for order, knob in enumerate(("k_factor", "nprobe", "efSearch")):
        if knob not in current:
            continue
        higher = [v for v in LADDERS[knob] if v > current[knob] and (knob != "nprobe" or v <= nlist)]
        if higher:
            options.append((LADDERS[knob].index(higher[0]), order, knob, higher[0]))
    if not options:
        return None
    _, _, knob, value = min(options)
    return {**params, knob: value}


def _score(m: Measurement) -> float:
    """The weaker half of the sample (NaN halves, when empty, are ignored)."""
    return float(np.nanmin([m.recall_held, m.recall_copies]))


def step_row(params: dict, m: Measurement) -> dict:
    return {
        "params": dict(params),
        "recall": round(m.recall, 4),
        "recall_held": round(m.recall_held, 4),
        "recall_copies": round(m.recall_copies, 4),
        "p95_ms": round(m.p95_ms, 3),
    }


def tune(
    index: faiss.Index, sample: RecallSample, *, params: dict, deadline: float, valid_ids: np.ndarray | None = None
) -> Tuning:
    """Raise ``index``'s knobs from ``params`` until the sample reaches the target; the index keeps the best step."""
    target, ceiling = settings.ANN_RECALL_TARGET, settings.ANN_RECALL_MAX_P95_MS
    params, steps, tried = {**ann.search_params(index), **params}, [], []
    reason = ""
    while True:
        ann.configure_search(index, params)
        m = measure(index, sample, search_threads=settings.ANN_SEARCH_THREADS, valid_ids=valid_ids)
        steps.append(step_row(params, m))
        tried.append((params, m))
        if reaches(m, target) and m.p95_ms <= ceiling:
            return Tuning(params=params, measurement=m, reached=True, steps=steps)
        described = f"recall@{K} {m.recall_held:.3f} held-out / {m.recall_copies:.3f} near-copy at {params}"
        following = next_params(index, params)
        if m.p95_ms > ceiling:
            reason = f"p95 {m.p95_ms:.2f} ms passed ANN_RECALL_MAX_P95_MS={ceiling} with {described}"
        elif following is None:
            reason = f"search knobs at their ceiling with {described}"
        elif len(steps) >= 3 and steps[-1]["recall"] - steps[-3]["recall"] < PLATEAU:
            reason = f"recall stopped improving (the codes are too coarse) with {described}"
        elif time.perf_counter() > deadline:
            reason = f"tuning time (ANN_RECALL_MAX_SHARE of the build's) spent with {described}"
        if reason:
            break
        params = following
    within = [(p, m) for p, m in tried if m.p95_ms <= ceiling] or tried[:1]
    best_params, best = max(within, key=lambda pm: _score(pm[1]))
    ann.configure_search(index, best_params)
    return Tuning(params=best_params, measurement=best, reached=False, reason=reason, steps=steps)


@dataclass
class BuildRecall:
    """What a build measured: the config it serves, its sample's recall and latency, and how it got there."""

    config: ann.IndexConfig
    measurement: Measurement | None
    report: dict


def build_tuned(
    vectors: np.ndarray, ids: np.ndarray, config: ann.IndexConfig, *, use_gpu: bool, forced: bool
) -> tuple[faiss.Index, BuildRecall]:
    """Build ``config`` (or, unless ``forced``, the table's next kinds) until its own sample reaches the target.

    Reorders ``vectors`` and ``ids`` together in place (held-out rows last) when they are
    float32 and int64 already: pairs stay aligned, and a large collection is not copied.
    """
    started = time.perf_counter()
    target = settings.ANN_RECALL_TARGET
    if config.factory == ann.FLAT or len(ids) < settings.ANN_RECALL_MIN_SIZE:
        return build_untuned(vectors, ids, config, use_gpu=use_gpu)
    # Held-out rows move to the end of both arrays, in place (no second copy of a large collection).
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    held = hold_out(vectors, ids, count=settings.ANN_RECALL_SAMPLE // 2)
    kept = len(ids) - held
    base, base_ids = vectors[:kept], ids[:kept]
    sample = draw_sample(base, base_ids, vectors[kept:], copies=settings.ANN_RECALL_SAMPLE - held, use_gpu=use_gpu)
    configs = [config] if forced else _candidates(config, len(ids))
    attempts: list[dict] = []
    best: tuple[faiss.Index, ann.IndexConfig, Tuning] | None = None
    for candidate in configs:
        built = time.perf_counter()
        index = ann.make_index(base, base_ids, candidate, use_gpu)
        build_s = time.perf_counter() - built
        deadline = time.perf_counter() + max(settings.ANN_RECALL_MAX_SHARE * build_s, MIN_TUNING_SECONDS)
        tuning = tune(index, sample, params=dict(candidate.params), deadline=deadline)
        attempts.append(_attempt(candidate, tuning, build_s))
        logger.info("Recall of %s on its own sample: %s", candidate.factory, attempts[-1])
        if best is None or _preferred(tuning, best[2]):
            best = (index, ann.IndexConfig(candidate.factory, tuning.params), tuning)
        del index
        if tuning.reached:
            break
    index, chosen, tuning = best
    index.add_with_ids(vectors[kept:], ids[kept:])
    report = {
        "target": target,
        "reached": tuning.reached,
        "exact": False,
        "truth_seconds": round(sample.truth_seconds, 3),
        "seconds": round(time.perf_counter() - started - sum(a["build_s"] for a in attempts), 3),
        "attempts": attempts,
        "note": _note(chosen, attempts, tuning, forced),
    }
    logger.info("Index recall: %s (measurement %.1f s)", report["note"], report["seconds"])
    return index, BuildRecall(config=chosen, measurement=tuning.measurement, report=report)


def build_untuned(
    vectors: np.ndarray, ids: np.ndarray, config: ann.IndexConfig, *, use_gpu: bool
) -> tuple[faiss.Index, BuildRecall]:
    """Flat is exact by design (its latency alone is timed); a collection under ANN_RECALL_MIN_SIZE is not sampled."""
    index = ann.make_index(vectors, ids, config, use_gpu)
    exact = config.factory == ann.FLAT
    note = "exact by design (Flat): recall 1.0, not sampled" if exact else "too small to sample (ANN_RECALL_MIN_SIZE)"
    measurement = None
    if exact and len(ids):
        queries = near_copies(np.asarray(vectors[: 10 * FLAT_TIMED], dtype=np.float32), FLAT_TIMED)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        # Flat's answers are the exact ones: only its latency is news.
        sample = RecallSample(queries=queries, truth=index.search(queries, K)[1], held=0, truth_seconds=0.0)
        measurement = measure(index, sample, search_threads=settings.ANN_SEARCH_THREADS)
    reached = True if exact else None  # None: not measured
    report = {"target": settings.ANN_RECALL_TARGET, "reached": reached, "exact": exact, "attempts": [], "note": note}
    return index, BuildRecall(config=config, measurement=measurement, report=report)


def _preferred(tuning: Tuning, than: Tuning) -> bool:
    """Which attempt to serve: one that reached the target; else one within the latency ceiling, by recall;
    else (all too slow on this host) one whose recall reaches the target, by latency; else by recall."""
    target, ceiling = settings.ANN_RECALL_TARGET, settings.ANN_RECALL_MAX_P95_MS

    def rank(t: Tuning) -> tuple:
        m = t.measurement
        return (t.reached, m.p95_ms <= ceiling, reaches(m, target), -m.p95_ms if reaches(m, target) else _score(m))

    return rank(tuning) > rank(than)


def _candidates(config: ann.IndexConfig, n: int) -> list[ann.IndexConfig]:
    # Flat is no fallback: above ann_choice.ALWAYS_FLAT its scan is what the approximate kinds avoid
    # (≈ 600 ms a query at 1M), and the chooser picks it itself where it is fast enough.
    ranked = [c for c in ann_choice.ranked_configs(n) if c.factory not in (config.factory, ann.FLAT)]
    return [config, *ranked][: settings.ANN_RECALL_MAX_KINDS]


def _attempt(config: ann.IndexConfig, tuning: Tuning, build_s: float) -> dict:
    return {
        "kind": config.factory,
        "start": dict(config.params),
        "params": dict(tuning.params),
        "reached": tuning.reached,
        "reason": tuning.reason,
        "build_s": round(build_s, 2),
        "steps": tuning.steps,
    }


def _note(chosen: ann.IndexConfig, attempts: list[dict], tuning: Tuning, forced: bool) -> str:
    m = tuning.measurement
    said = f"{chosen.factory} {chosen.params}: recall@{K} {m.recall:.3f} on its own sample, p95 {m.p95_ms:.2f} ms"
    missed = [f"{a['kind']}: {a['reason']}" for a in attempts if not a["reached"]]
    if tuning.reached and not missed:
        return said
    if tuning.reached:
        return f"{said}; built instead of " + "; ".join(missed)
    why = "ANN_INDEX_KIND forces it" if forced else "no kind tried reached it"
    return f"recall target {settings.ANN_RECALL_TARGET} missed ({why}); serving the best, {said}; " + "; ".join(missed)
