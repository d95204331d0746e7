"""Shared set-up for bench scripts: Django settings, peak memory, percentiles."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visualsearch.settings")
    # Benchmarks run the development configuration on this machine unless told otherwise.
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    values = np.asarray(seconds) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def clustered_vectors(count: int, dim: int = 512, clusters: int = 1000, seed: int = 0) -> np.ndarray:
    """Unit vectors scattered around ``clusters`` centres: closer to real CLIP crops
    (many near-duplicates of few kinds of object) than uniform noise, which no ANN
    index handles well and no real collection looks like."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    out = np.empty((count, dim), dtype=np.float32)
    step = 200_000
    for start in range(0, count, step):
        n = min(step, count - start)
        chunk = centres[rng.integers(0, clusters, n)] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
        out[start : start + n] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


MIXTURE_SEED = 20261129


def mixture_vectors(count: int, seed: int, dim: int = 512, clusters: int = 2000, spread: float = 0.3) -> np.ndarray:
    """``count`` unit vectors from one fixed mixture: the same centres for every seed.

    Data and queries drawn with different seeds come from the same distribution, as a
    user's queries come from the collection's own kinds of object. ``spread`` is the
    noise's total length against a unit centre: two samples of one cluster have a
    cosine of about 1 / (1 + spread**2) (0.92 at 0.3), near what CLIP gives two crops
    of the same kind of object.
    """
    return mixture_with_clusters(count, seed, dim, clusters, spread)[0]


def mixture_with_clusters(
    count: int, seed: int, dim: int = 512, clusters: int = 2000, spread: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """mixture_vectors and the cluster each vector was drawn from (a stand-in for its object class)."""
    centres = np.random.default_rng(MIXTURE_SEED).standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    out = np.empty((count, dim), dtype=np.float32)
    members = rng.integers(0, clusters, count)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        noise = rng.standard_normal((n, dim)).astype(np.float32) * (spread / np.sqrt(dim))
        chunk = centres[members[start : start + n]] + noise
        out[start : start + n] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out, members


def rss_and_pss_mb(pid: int | str = "self") -> tuple[float, float]:
    """Resident and proportional set size: PSS splits pages shared by processes (a mapped index) between them."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                values[parts[0]] = int(parts[1]) / 1024
    return values["Rss:"], values["Pss:"]
