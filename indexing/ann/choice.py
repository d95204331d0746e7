"""Choose a FAISS configuration from targets (recall, memory), not from size thresholds.

``bench/ann.py`` measures every configuration in :data:`SWEEPS` (index type plus its
search-time knobs) at 100k and 1M vectors and writes ``indexing/ann/ann_table.json``, which
ships with the code. For ``n`` vectors :func:`choose`:

1. up to :data:`ALWAYS_FLAT` vectors returns exact search (fast enough, nothing to tune);
2. takes the table rows of the smallest measured size >= ``n`` (above the largest
   measured size, the largest's rows: an extrapolation, logged);
3. keeps rows whose in-distribution recall@10 reaches ``ANN_RECALL_TARGET`` and whose
   ``bytes_per_vector * n`` fits ``ANN_MAX_INDEX_MEMORY`` (as autofaiss's
   ``max_index_memory_usage``);
4. returns the one with the lowest single-query p95 latency, with ``{nlist}`` scaled to
   ``n`` (``ann.ivf_lists``);
5. when no row meets both, warns which target is missed and returns the most accurate
   row that fits the memory budget (or, if none fits, the smallest).
"""

from __future__ import annotations

import json
import logging
import math
import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from indexing.ann.faiss_index import FLAT, IndexConfig, ivf_lists

logger = logging.getLogger(__name__)

TABLE_PATH = Path(__file__).with_name("ann_table.json")
# Below this, exact search answers in about 1-2 ms a query: no approximation is worth it.
ALWAYS_FLAT = 20_000
# Query neighbours behind a row's recall when the table does not say (200 queries x k=10).
DEFAULT_SAMPLES = 2000

# What bench/ann.py measures: a factory template ({nlist} scales with n) and the search
# knobs swept on one build of it.
_IVF = (4, 8, 16, 32, 64, 128)
_REFINE = [{"nprobe": p, "k_factor": k} for p in (16, 32, 64) for k in (4, 8, 16, 32)]
SWEEPS: list[tuple[str, list[dict]]] = [
    ("Flat", [{}]),
    ("HNSW16", [{"efSearch": ef} for ef in (16, 32, 64, 128, 256)]),
    ("HNSW32", [{"efSearch": ef} for ef in (16, 32, 64, 128, 256)]),
    ("IVF{nlist},SQ8", [{"nprobe": p} for p in _IVF]),
    ("IVF{nlist},SQ4", [{"nprobe": p} for p in _IVF]),
    ("IVF{nlist},PQ64x4fs,Refine(SQ8)", _REFINE),
    ("IVF{nlist},PQ64x4fs,Refine(SQ4)", _REFINE),
    ("IVF{nlist},PQ64x4fs", [{"nprobe": p} for p in (16, 32, 64, 128)]),
]

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_bytes(value: str | int) -> int:
    """``8GB`` -> 8e9, ``512MiB`` -> 512 * 2**20, ``1000000`` -> 1e6."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(value))
    if not match or match.group(2).upper() not in _UNITS:
        raise ValueError(f"ANN_MAX_INDEX_MEMORY must be bytes or a size like 8GB or 512MiB, not {value!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@lru_cache(maxsize=4)
def load_table(path: Path = TABLE_PATH) -> dict:
    data = json.loads(Path(path).read_text())
    return {**data, "rows": worst_case(data["rows"])}


def worst_case(rows: list[dict]) -> list[dict]:
    """One row per (size, kind, knobs): the lowest recall and highest latency any measured distribution gave it."""
    merged: dict[tuple, dict] = {}
    for row in rows:
        key = (row["size"], row["kind"], json.dumps(row["params"], sort_keys=True))
        seen = merged.setdefault(key, {**row, "distributions": []})
        seen["distributions"].append(row.get("distribution", "bench"))
        for field, pick in (("recall_in_dist", min), ("p95_ms", max), ("p50_ms", max), ("bytes_per_vector", max)):
            seen[field] = pick(seen[field], row[field])
    return list(merged.values())


def choose(
    n: int, *, recall_target: float | None = None, max_memory: str | int | None = None, table: dict | None = None
):
    """The :class:`ann.IndexConfig` for ``n`` vectors (targets default to settings)."""
    target = settings.ANN_RECALL_TARGET if recall_target is None else recall_target
    budget = parse_bytes(settings.ANN_MAX_INDEX_MEMORY if max_memory is None else max_memory)
    rows = (table or load_table())["rows"]
    flat_bytes = next((r["bytes_per_vector"] for r in rows if r["kind"] == FLAT), 2048)
    if n <= ALWAYS_FLAT and flat_bytes * n <= budget:
        return IndexConfig(FLAT)
    data = table or load_table()
    samples = data.get("queries_per_set", 200) * data.get("k", 10)
    row = pick_row(n, data["rows"], target, budget, samples)
    return IndexConfig(row["kind"].format(nlist=ivf_lists(n)), dict(row["params"]))


def ranked_configs(
    n: int, *, recall_target: float | None = None, max_memory: str | int | None = None, table: dict | None = None
) -> list:
    """Every measured kind that fits the memory budget for ``n`` vectors, best first, as :class:`ann.IndexConfig`.

    The order :func:`choose` ranks by (rows surely reaching the target by p95 latency,
    then the rest by recall), one entry per kind, with the search knobs of its best row:
    what a build falls back to, in turn, when its own sample says a kind misses the
    target within the latency ceiling (indexing.ann.recall.measure).
    """
    target = settings.ANN_RECALL_TARGET if recall_target is None else recall_target
    budget = parse_bytes(settings.ANN_MAX_INDEX_MEMORY if max_memory is None else max_memory)
    data = table or load_table()
    samples = data.get("queries_per_set", 200) * data.get("k", 10)
    rows = [r for r in data["rows"] if r["size"] == _measured_size(n, data["rows"])]
    fits = [r for r in rows if r["bytes_per_vector"] * n <= budget]
    good = sorted(
        (r for r in fits if surely_reaches(r["recall_in_dist"], target, samples)),
        key=lambda r: (r["p95_ms"], r["p50_ms"], r["bytes_per_vector"]),
    )
    rest = sorted((r for r in fits if r not in good), key=lambda r: (-r["recall_in_dist"], r["p95_ms"]))
    seen: dict[str, IndexConfig] = {}
    for row in good + rest:
        seen.setdefault(row["kind"], IndexConfig(row["kind"].format(nlist=ivf_lists(n)), dict(row["params"])))
    return list(seen.values())


def _measured_size(n: int, rows: list[dict]) -> int:
    sizes = sorted({r["size"] for r in rows})
    return next((s for s in sizes if s >= n), sizes[-1])


def surely_reaches(recall: float, target: float, samples: int) -> bool:
    """``recall`` (a mean over ``samples`` query neighbours) minus two standard errors is >= ``target``."""
    return recall - 2 * math.sqrt(max(recall * (1 - recall), 0.0) / max(samples, 1)) >= target


def pick_row(n: int, rows: list[dict], target: float, budget: int, samples: int = DEFAULT_SAMPLES) -> dict:
    sizes = sorted({r["size"] for r in rows})
    size = next((s for s in sizes if s >= n), sizes[-1])
    if n > size:
        logger.info("ANN choice for %d vectors extrapolates from the table's largest size, %d", n, size)
    measured = [r for r in rows if r["size"] == size]
    fits = [r for r in measured if r["bytes_per_vector"] * n <= budget]
    # A row's recall is a mean over the table's queries: count it as reaching the target only
    # when it does by two standard errors, so a second sample of queries would too.
    good = [r for r in fits if surely_reaches(r["recall_in_dist"], target, samples)]
    if good:
        return min(good, key=lambda r: (r["p95_ms"], r["p50_ms"], r["bytes_per_vector"]))
    if fits:
        best = max(fits, key=lambda r: (r["recall_in_dist"], -r["p95_ms"]))
        logger.warning(
            "No FAISS configuration reaches ANN_RECALL_TARGET=%s for %d vectors within ANN_MAX_INDEX_MEMORY=%d "
            "bytes; recall target missed: using %s %s (recall@10 %.3f at %d)",
            target, n, budget, best["kind"], best["params"], best["recall_in_dist"], size,
        )  # fmt: skip
        return best
    smallest = min(measured, key=lambda r: (r["bytes_per_vector"], -r["recall_in_dist"]))
    logger.warning(
        "No FAISS configuration fits ANN_MAX_INDEX_MEMORY=%d bytes for %d vectors; memory budget missed: "
        "using the smallest, %s %s (≈ %d bytes, recall@10 %.3f)",
        budget, n, smallest["kind"], smallest["params"], smallest["bytes_per_vector"] * n, smallest["recall_in_dist"],
    )  # fmt: skip
    return smallest


def choose_config(size: int) -> IndexConfig:
    """The index type and search parameters for ``size`` vectors: ``ANN_INDEX_KIND`` when
    it forces a factory string, else the fastest measured configuration that meets
    ``ANN_RECALL_TARGET`` within ``ANN_MAX_INDEX_MEMORY`` (:func:`choose`)."""
    if settings.ANN_INDEX_KIND != "auto":
        return IndexConfig(settings.ANN_INDEX_KIND)
    return choose(size)


def choose_kind(size: int) -> str:
    """The FAISS factory string :func:`choose_config` picks for ``size`` vectors."""
    return choose_config(size).factory
