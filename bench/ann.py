"""FAISS index types at 10k / 100k / 1M synthetic 512-d vectors.

Prints, per size and type: build time, index size, query latency p50/p95 (one
query at a time, as the web process searches) and recall@10 against exact search.

    .venv/bin/python bench/ann.py [--sizes 10000,100000,1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _setup import clustered_vectors, peak_rss_mb, percentiles_ms, setup_django

setup_django()

from indexing import ann  # noqa: E402

K = 10


def measure(kind: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict:
    ids = np.arange(len(vectors), dtype=np.int64)
    started = time.perf_counter()
    index = ann.make_index(vectors, ids, kind)
    build_s = time.perf_counter() - started
    size_mb = len(ann.serialize(index)) / 1e6
    latencies, found = [], []
    for query in queries:
        t = time.perf_counter()
        _, result = ann.search(index, query, K)
        latencies.append(time.perf_counter() - t)
        found.append(result[0])
    recall = np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)])
    p50, p95 = percentiles_ms(latencies)
    return {"kind": kind, "build_s": build_s, "size_mb": size_mb, "p50_ms": p50, "p95_ms": p95, "recall": recall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--kinds",
        default="Flat;HNSW32;IVF-SQ8;IVF-PQ64x4fs;IVF-PQ64x4fs,Refine(SQ8)",
        help="FAISS factory strings separated by semicolons; IVF- gets the list count by size",
    )
    args = parser.parse_args()
    print(f"{'size':>9} {'kind':<22} {'build s':>8} {'MB':>8} {'p50 ms':>8} {'p95 ms':>8} {'recall@10':>9}")
    for size in [int(s) for s in args.sizes.split(",")]:
        vectors = clustered_vectors(size)
        queries = clustered_vectors(args.queries, seed=1)
        exact = ann.make_index(vectors, np.arange(size, dtype=np.int64), "Flat")
        _, truth = ann.search(exact, queries, K)
        del exact
        for kind in args.kinds.split(";"):
            if kind.startswith("IVF-"):
                kind = f"IVF{ann.ivf_lists(size)},{kind[4:]}"
            row = measure(kind, vectors, queries, truth)
            print(
                f"{size:>9} {row['kind']:<22} {row['build_s']:>8.2f} {row['size_mb']:>8.1f} "
                f"{row['p50_ms']:>8.3f} {row['p95_ms']:>8.3f} {row['recall']:>9.3f}",
                flush=True,
            )
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
