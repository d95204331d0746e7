"""FAISS index types on CLIP-like vectors: the table ``ANN_INDEX_KIND=auto`` chooses from.

Per size and configuration (factory string + search knobs): recall@10 against exact
search on two query sets, single-query latency p50/p95 with one thread (as the web
process searches), build time with all threads, and serialized bytes per vector.

- in-distribution queries: held-out samples of the same mixture as the data
  (bench/lib/setup.py ``DISTRIBUTIONS``: the bench's own, looser and tighter clusters, an
  anisotropic one; ``--distributions``), the "new photo of a known kind of object" case;
- near-copy queries: stored vectors plus small noise, the "re-upload" case.

Search knobs are swept on one build (efSearch for HNSW, nprobe for IVF, k_factor for
refined IVF-PQ). Writes the table to ``indexing/ann/ann_table.json`` (shipped: the chooser
in ``indexing/ann/choice.py`` reads it), then extrapolates to 10M and 100M.

    .venv/bin/python bench/ann.py [--sizes 100000,1000000] [--queries 200]
    .venv/bin/python bench/ann.py --vectors my_embeddings.npy --out my_table.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
from lib.setup import DISTRIBUTIONS, ROOT, distribution_vectors, near_copies, peak_rss_mb, percentiles_ms, setup_django
from threadpoolctl import threadpool_limits

setup_django()

from indexing.ann import faiss_index as ann  # noqa: E402
from indexing.ann.choice import SWEEPS  # noqa: E402

K = 10
ALL_THREADS = os.cpu_count() or 1


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def timed_search(index, query: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    """One query, ANN_SEARCH_THREADS (1) threads; the fastest of ``repeats`` runs, so that
    other jobs on a shared machine pre-empting this one do not pass for search cost."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        _, ids = ann.search(index, query, K)
        best = min(best, time.perf_counter() - t)
    return best, ids[0]


def sweep(kind: str, index, params_list, queries, truths, repeats: int) -> list[dict]:
    rows = []
    for params in params_list:
        ann.configure_search(index, params)
        latencies, found = [], []
        for query in queries["in_dist"]:
            seconds, ids = timed_search(index, query, repeats)
            latencies.append(seconds)
            found.append(ids)
        faiss.omp_set_num_threads(ALL_THREADS)
        _, near = index.search(queries["near_copy"], K)
        p50, p95 = percentiles_ms(latencies)
        rows.append(
            {
                "kind": kind,
                "params": params,
                "recall_in_dist": round(recall(np.asarray(found), truths["in_dist"]), 4),
                "recall_near_copy": round(recall(near, truths["near_copy"]), 4),
                "p50_ms": round(p50, 3),
                "p95_ms": round(p95, 3),
            }
        )
    return rows


def run_size(size, vectors, queries, args, previous, report, save) -> list[dict]:
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    faiss.omp_set_num_threads(ALL_THREADS)
    truths = {name: exact.search(q, K)[1] for name, q in queries.items()}
    del exact
    ids = np.arange(size, dtype=np.int64)
    rows = []
    sweeps = dict(SWEEPS)
    for kind in args.kinds.split(";") if args.kinds else sweeps:
        params_list = sweeps[kind]
        factory = kind.format(nlist=ann.ivf_lists(size))
        # HNSW build time grows a little faster than n (allow 1.3x linear); IVF's k-means
        # trains on a capped sample, so only its add step grows with n.
        if kind in previous and kind.startswith("HNSW"):
            estimate = previous[kind][1] * 1.3 * size / previous[kind][0]
            if estimate > args.max_build_s:
                reason = f"build estimated at {estimate:.0f} s, over --max-build-s"
                report["skipped"].append({"size": size, "kind": kind, "factory": factory, "reason": reason})
                print(f"{size:>9} {factory:<32} skipped: build estimated {estimate:.0f} s", flush=True)
                continue
        faiss.omp_set_num_threads(ALL_THREADS)
        started = time.perf_counter()
        index = ann.make_index(vectors, ids, factory)
        build_s = time.perf_counter() - started
        previous[kind] = (size, build_s)
        bytes_per_vector = len(ann.serialize(index)) / size
        for row in sweep(kind, index, params_list, queries, truths, args.repeats):
            row.update(
                size=size, factory=factory, build_s=round(build_s, 2), bytes_per_vector=round(bytes_per_vector, 1)
            )
            rows.append(row)
            print(
                f"{size:>9} {factory:<32} {json.dumps(row['params']):<30} {row['recall_in_dist']:>6.3f} "
                f"{row['recall_near_copy']:>6.3f} {row['p50_ms']:>8.3f} {row['p95_ms']:>8.3f} "
                f"{build_s:>8.1f} {bytes_per_vector:>7.0f}",
                flush=True,
            )
        del index
        save(rows)
    return rows


def extrapolate(rows: list[dict]) -> list[dict]:
    """10M and 100M from the two largest measured sizes: memory linear in n (bytes per
    vector), build time and latency on the power law their 100k -> 1M growth fits.
    Recall is the largest size's measurement (it tends to fall as n grows)."""
    sizes = sorted({r["size"] for r in rows})
    if len(sizes) < 2:
        return []
    small, large = sizes[-2], sizes[-1]
    key = lambda r: (r.get("distribution"), r["kind"], json.dumps(r["params"], sort_keys=True))  # noqa: E731
    before = {key(r): r for r in rows if r["size"] == small}
    out = []
    for row in (r for r in rows if r["size"] == large and key(r) in before):
        base = before[key(row)]
        for target in (10_000_000, 100_000_000):
            growth = {}
            # Measured growth exponents, clamped to what the algorithms allow, since load on
            # a shared machine can inflate one size: no search here costs more than a scan
            # of every vector (exponent <= 1), no build more than n log n (<= 1.2).
            for field, ceiling in (("build_s", 1.2), ("p95_ms", 1.0)):
                slope = np.log(max(row[field], 1e-6) / max(base[field], 1e-6)) / np.log(large / small)
                growth[field] = row[field] * (target / large) ** float(np.clip(slope, 0.0, ceiling))
            out.append(
                {
                    "size": target,
                    "distribution": row.get("distribution"),
                    "factory": row["kind"].format(nlist=ann.ivf_lists(target)),
                    "params": row["params"],
                    "recall_in_dist_measured_at": large,
                    "recall_in_dist": row["recall_in_dist"],
                    "memory_gb": round(row["bytes_per_vector"] * target / 1e9, 1),
                    "build_s": round(growth["build_s"]),
                    "p95_ms": round(growth["p95_ms"], 2),
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated vector counts (10000 also works)")
    parser.add_argument("--queries", type=int, default=200, help="queries per query set")
    parser.add_argument("--vectors", type=Path, help="your own (n, d) float32 .npy embeddings instead of synthetic")
    parser.add_argument(
        "--out", type=Path, help="JSON table path (default indexing/ann/ann_table.json for synthetic data)"
    )
    parser.add_argument("--max-build-s", type=float, default=600, help="skip HNSW builds estimated to take longer")
    parser.add_argument("--repeats", type=int, default=3, help="time each query this often, keep the fastest")
    parser.add_argument("--kinds", help="semicolon-separated ann_choice.SWEEPS templates, in run order")
    parser.add_argument(
        "--distributions", default="bench", help=f"comma-separated, of {sorted(DISTRIBUTIONS)} (bench/lib/setup.py)"
    )
    args = parser.parse_args()
    if set(args.distributions.split(",")) - set(DISTRIBUTIONS):
        parser.error(f"--distributions: each one of {sorted(DISTRIBUTIONS)}")
    unknown = set(args.kinds.split(";")) - {kind for kind, _ in SWEEPS} if args.kinds else set()
    if unknown:
        parser.error(f"--kinds: {sorted(unknown)} not in {[kind for kind, _ in SWEEPS]}")
    out = args.out or (None if args.vectors else ROOT / "indexing" / "ann" / "ann_table.json")
    own = np.load(args.vectors, mmap_mode="r") if args.vectors else None
    report = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": ALL_THREADS,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "shared": "the 2-core development machine, shared with other engineers' jobs while this ran",
            "faiss": faiss.__version__,
            "search_threads": 1,
            "latency": f"fastest of {args.repeats} runs per query, p50/p95 over {args.queries} queries",
            "build_threads": f"{ALL_THREADS} OpenMP threads, BLAS 1 thread (OpenBLAS spin-waits on a shared machine)",
        },
        "data": str(args.vectors) if own is not None else "bench/lib/setup.py DISTRIBUTIONS (each row's distribution)",
        "queries_per_set": args.queries,
        "k": K,
        "rows": [],
        "skipped": [],
    }
    print(f"load average at start {os.getloadavg()}")
    heads = ("in", "near", "p50 ms", "p95 ms", "build s", "B/vec")
    print(f"{'size':>9} {'factory':<32} {'params':<30} " + " ".join(f"{h:>8}" for h in heads))
    previous: dict = {}
    # Faiss's own OpenBLAS runs k-means; with other jobs on the cores its threads spin-wait.
    threadpool_limits(1, user_api="blas")
    names = ["own"] if own is not None else args.distributions.split(",")
    # Rows of distributions this run does not measure stay in the table (the chooser takes the worst per config).
    if out and out.exists() and own is None:
        report["rows"] = [r for r in json.loads(out.read_text())["rows"] if r.get("distribution", "bench") not in names]
    for distribution, size in [(name, int(s)) for name in names for s in args.sizes.split(",")]:
        if own is not None:  # the file's last rows are the held-out queries
            size = min(size, len(own) - args.queries)
            vectors = np.ascontiguousarray(own[:size], dtype=np.float32)
            in_dist = np.ascontiguousarray(own[-args.queries :], dtype=np.float32)
        else:
            vectors = distribution_vectors(distribution, size, seed=0)
            in_dist = distribution_vectors(distribution, args.queries, seed=1)
        queries = {"in_dist": in_dist, "near_copy": near_copies(vectors, args.queries, seed=2)}
        done = list(report["rows"])

        def save(rows: list[dict], done: list[dict] = done, distribution: str = distribution) -> None:
            # After every index type, so a long run that is stopped keeps what it measured.
            report["rows"] = done + [{**row, "distribution": distribution} for row in rows]
            report["sizes"] = sorted({r["size"] for r in report["rows"]})
            report["extrapolated"] = extrapolate(report["rows"])
            if out:
                out.write_text(json.dumps(report, indent=1) + "\n")

        save(run_size(size, vectors, queries, args, previous, report, save))
        del vectors
    print("\nextrapolated (not measured): memory = bytes/vector x n; build and p95 on the measured growth")
    for row in report["extrapolated"]:
        if row["recall_in_dist"] >= 0.9:
            print(
                f"{row['size']:>11} {row['factory']:<32} {json.dumps(row['params']):<30} "
                f"recall@{row['recall_in_dist_measured_at']} {row['recall_in_dist']:.3f} "
                f"{row['memory_gb']:>8.1f} GB  build ≈ {row['build_s']} s  p95 ≈ {row['p95_ms']} ms"
            )
    print(f"peak RSS {peak_rss_mb():.0f} MB" + (f"; table written to {out}" if out else ""))


if __name__ == "__main__":
    main()
