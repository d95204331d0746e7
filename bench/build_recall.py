"""Does every build the product makes reach ANN_RECALL_TARGET on fresh queries, whatever the data?

For each distribution (bench/lib/setup.py DISTRIBUTIONS), runs the product's full-build
path over in-memory vectors: ``ann_choice.choose_config`` then ``build_recall.build_tuned``
(what ``builds.publish_build`` calls: hold out a sample, exact neighbours, raise the
knobs, fall back to the next kind). Then measures the served index apart from the
build's own sample, on fresh points of the same distribution (another seed), and prints
the chosen kind and knobs, sample recall, fresh recall (± 2 standard errors), p95,
build time and the measurement's time and share.

``--scan-cost N``: the flat-scan cost of exact neighbours for the sample at N vectors,
timed over 4 chunks of 262144 rows (512 MB each, fixed seeds) scanned in turn: 10M x 512
float32 would be 20 GB, and the scan's cost does not depend on the values.

    .venv/bin/python bench/build_recall.py [--size 100000] [--distributions bench,loose,anisotropic]
    .venv/bin/python bench/build_recall.py --scan-cost 1000000,10000000
"""

from __future__ import annotations

import argparse
import math
import os
import time

import faiss
import numpy as np
from lib.setup import DISTRIBUTIONS, distribution_vectors, peak_rss_mb, percentiles_ms, setup_django
from threadpoolctl import threadpool_limits

setup_django()

from django.conf import settings  # noqa: E402

from indexing.ann import choice as ann_choice  # noqa: E402
from indexing.ann import faiss_index as ann  # noqa: E402
from indexing.ann.recall import measure as build_recall  # noqa: E402
from indexing.ann.recall.sample import K, exact_neighbours, recall_at_k  # noqa: E402

CHUNK = 262_144
SCAN_CHUNKS = 4


def fresh_recall(index, vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> tuple[float, float, float]:
    """recall@K on ``queries`` against exact search over ``vectors``, and single-query p95 (ms)."""
    truth = ids[exact_neighbours(vectors, queries, K)]
    found, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        _, got = ann.search(index, query, K)
        seconds.append(time.perf_counter() - started)
        found.append(got[0])
    hits = recall_at_k(np.asarray(found), truth)
    _, p95 = percentiles_ms(seconds)
    return float(hits.mean()), 2 * math.sqrt(hits.mean() * (1 - hits.mean()) / (len(hits) * K)), p95


def run(name: str, size: int, queries: int) -> None:
    started = time.perf_counter()
    vectors = distribution_vectors(name, size, seed=0)
    fresh = distribution_vectors(name, queries, seed=1)
    ids = np.arange(size, dtype=np.int64)
    generated = time.perf_counter() - started
    config = ann_choice.choose_config(size)
    started = time.perf_counter()
    # build_tuned moves its held-out rows to the end of both arrays (in place): pairs stay aligned.
    index, measured = build_recall.build_tuned(vectors, ids, config, use_gpu=False, forced=False)
    total = time.perf_counter() - started
    report, m = measured.report, measured.measurement
    recall, margin, p95 = fresh_recall(index, vectors, ids, fresh)
    chosen = measured.config
    print(
        f"{name:<12} {size:>8}  table picked {config.factory} {config.params}\n"
        f"{'':<12} built {chosen.factory} {chosen.params} in {total:.0f} s "
        f"(data {generated:.0f} s; measurement {report.get('seconds', 0):.1f} s = "
        f"{100 * report.get('seconds', 0) / max(total, 1e-9):.0f} % of the build, exact truth "
        f"{report.get('truth_seconds', 0):.1f} s)\n"
        f"{'':<12} sample recall@{K} {m.recall:.4f} (held-out {m.recall_held:.4f}, near-copy "
        f"{m.recall_copies:.4f}, {m.queries} queries), sample p95 {m.p95_ms:.3f} ms\n"
        f"{'':<12} FRESH recall@{K} {recall:.4f} ± {margin:.4f} ({queries} queries)  p95 {p95:.3f} ms  "
        f"{'>= target' if recall >= settings.ANN_RECALL_TARGET else 'BELOW TARGET'}",
        flush=True,
    )
    for attempt in report["attempts"]:
        steps = ", ".join(f"{s['params']}->{s['recall_held']:.3f}/{s['recall_copies']:.3f}" for s in attempt["steps"])
        print(f"{'':<12}   {attempt['kind']} build {attempt['build_s']:.0f} s: {steps} {attempt['reason']}")
    print(f"{'':<12} note: {report['note']}", flush=True)


def scan_cost(sizes: list[int], queries: int) -> None:
    """Seconds for the exact top-K of ``queries`` sample queries over n random unit vectors, scanned in chunks."""
    sample = distribution_vectors("bench", queries, seed=3)
    # A few distinct chunks (fixed seeds), scanned in turn: the scan's cost does not depend on the
    # values, and generating 10M x 512 normals would take longer than scanning them on this machine.
    started = time.perf_counter()
    chunks = []
    for number in range(SCAN_CHUNKS):
        chunk = np.random.default_rng((2027, number)).standard_normal((CHUNK, 512), dtype=np.float32)
        chunks.append(chunk / np.linalg.norm(chunk, axis=1, keepdims=True))
    generating = time.perf_counter() - started
    for n in sizes:
        scanned = 0.0
        heap = faiss.ResultHeap(queries, K, keep_max=True)
        for number, start in enumerate(range(0, n, CHUNK)):
            chunk = chunks[number % SCAN_CHUNKS][: min(CHUNK, n - start)]
            t = time.perf_counter()
            scores, rows = faiss.knn(sample, chunk, K, metric=faiss.METRIC_INNER_PRODUCT)
            heap.add_result(scores, rows + start)
            scanned += time.perf_counter() - t
        heap.finalize()
        print(
            f"exact neighbours of {queries} sample queries over {n:>9} x 512: flat scan {scanned:.1f} s "
            f"({os.cpu_count()} threads, BLAS 1; {SCAN_CHUNKS} chunks of {CHUNK} rows, 512 MB each, fixed seeds, "
            f"scanned in turn; generating them took {generating:.0f} s, not counted)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--distributions", default="bench,loose,anisotropic", help=f"of {sorted(DISTRIBUTIONS)}")
    parser.add_argument("--queries", type=int, default=500, help="fresh queries per distribution")
    parser.add_argument("--scan-cost", help="comma-separated sizes: time the sample's exact-neighbour scan only")
    args = parser.parse_args()
    print(
        f"load average at start {os.getloadavg()}; {os.cpu_count()} cores; ANN_RECALL_TARGET "
        f"{settings.ANN_RECALL_TARGET}, ANN_RECALL_SAMPLE {settings.ANN_RECALL_SAMPLE}, "
        f"ANN_RECALL_MAX_P95_MS {settings.ANN_RECALL_MAX_P95_MS}",
        flush=True,
    )
    threadpool_limits(1, user_api="blas")  # OpenBLAS threads spin-wait on a shared machine
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    if args.scan_cost:
        scan_cost([int(s) for s in args.scan_cost.split(",")], settings.ANN_RECALL_SAMPLE)
    else:
        for name in args.distributions.split(","):
            run(name, args.size, args.queries)
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
