"""Shared set-up for bench scripts: Django settings, peak memory, percentiles, data."""

from __future__ import annotations

import os
import resource
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[2]

MIXTURE_CLUSTERS = 4096
MIXTURE_SEED = 12


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


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


class Mixture:
    """A fixed mixture of unit vectors shaped like CLIP crop embeddings.

    Real CLIP image embeddings share a strong common direction (two unrelated crops
    still have cosine ≈ 0.3-0.5), group into kinds of object (super-categories), and
    vary inside a kind along few directions (pose, colour, background), not along all
    512. So: a global mean, 64 super-categories, ``clusters`` centres around them with
    unequal popularity (Zipf-like weights), and per cluster a random 24-dimensional
    subspace with decaying spread plus a little isotropic noise. With the defaults a
    held-out point's nearest stored neighbour at 100k has cosine 0.87-0.93 (10th-90th
    percentile, median 0.91), its 10th ≈ 0.86, and random pairs ≈ 0.36: plausible for
    CLIP ViT-B/32 crops, and neither the trivial case (tight far-apart blobs) nor the
    pathological one (isotropic noise, where all neighbours of a query are equidistant
    and any ANN index looks bad).

    Same ``Mixture`` + different ``sample`` seeds = data and held-out queries of the
    same distribution.
    """

    def __init__(
        self,
        dim: int = 512,
        clusters: int = MIXTURE_CLUSTERS,
        seed: int = MIXTURE_SEED,
        rank: int = 24,
        *,
        spread: float = 0.35,
        iso: float = 0.25,
        dominant: int = 0,
        dense: float = 0.0,
        copies: float = 0.0,
    ):
        """``spread``/``iso``: within-cluster and isotropic noise (the bench's own data: 0.35/0.25);
        ``dominant``: that many shared directions carrying most of the variance (CLIP's anisotropy);
        ``dense``: share of clusters 4x tighter (many crops of one label); ``copies``: share of
        samples that are near-copies of another sample (re-uploads, burst shots)."""
        rng = np.random.default_rng(seed)
        self.dim, self.clusters, self.rank = dim, clusters, rank
        self.iso, self.copies = iso, copies
        mean = _unit(rng.standard_normal((1, dim)))
        supers = _unit(rng.standard_normal((64, dim)))
        own = _unit(rng.standard_normal((clusters, dim)))
        self.centres = _unit(0.8 * mean + 0.55 * supers[rng.integers(0, 64, clusters)] + 0.75 * own)
        weights = 1.0 / (np.arange(clusters) + 10.0) ** 0.7
        self.weights = rng.permutation(weights / weights.sum())
        self.spread = (spread * rng.lognormal(0.0, 0.25, clusters)).astype(np.float32)
        self.spread[rng.random(clusters) < dense] /= 4
        # Shared directions with decaying strength: every sample moves along them.
        self.dominant = _unit(rng.standard_normal((dominant, dim))) if dominant else np.zeros((0, dim), np.float32)
        self.dominant_scale = (0.25 * np.arange(1, dominant + 1) ** -0.6).astype(np.float32)
        self.decay = (np.arange(1, rank + 1) ** -0.5).astype(np.float32)
        self.decay /= np.sqrt((self.decay**2).sum())
        self.basis_seed = seed + 1

    def _basis(self, cluster: int) -> np.ndarray:
        rng = np.random.default_rng((self.basis_seed, cluster))
        q, _ = np.linalg.qr(rng.standard_normal((self.dim, self.rank)).astype(np.float32))
        return q.T  # (rank, dim), orthonormal rows

    def sample(self, count: int, seed: int) -> np.ndarray:
        return self.sample_with_clusters(count, seed)[0]

    def sample_with_clusters(self, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Samples and the cluster each came from (a stand-in for its object class)."""
        # Thousands of tiny matrix products: BLAS threads only add hand-offs (40x slower
        # when other jobs share the cores).
        with threadpool_limits(1, user_api="blas"):
            return self._sample(count, seed)

    def _sample(self, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng((seed, 7919))
        labels = rng.choice(self.clusters, size=count, p=self.weights)
        out = np.empty((count, self.dim), dtype=np.float32)
        order = np.argsort(labels, kind="stable")
        clusters, starts = np.unique(labels[order], return_index=True)
        for cluster, rows in zip(clusters, np.split(order, starts[1:]), strict=True):
            z = rng.standard_normal((len(rows), self.rank)).astype(np.float32) * self.decay
            local = (z @ self._basis(cluster)) * self.spread[cluster]
            iso = rng.standard_normal((len(rows), self.dim)).astype(np.float32) * (self.iso / np.sqrt(self.dim))
            out[rows] = self.centres[cluster] + local + iso
        if len(self.dominant):
            for start in range(0, count, 65536):  # in blocks: (count, dominant) scores stay small
                g = rng.standard_normal((min(65536, count - start), len(self.dominant))).astype(np.float32)
                out[start : start + len(g)] += (g * self.dominant_scale) @ self.dominant
        if self.copies:
            rows = np.flatnonzero(rng.random(count) < self.copies)
            sources = rng.integers(0, count, len(rows))
            jitter = rng.standard_normal((len(rows), self.dim)).astype(np.float32) * (0.05 / np.sqrt(self.dim))
            out[rows], labels[rows] = _unit(out[sources]) + jitter, labels[sources]
        return _unit(out), labels


# Distributions the bench measures on (indexing/ann/ann_table.json says which each row came from).
# "bench": the table's own; "loose": fewer, wider clusters (the miss issue 27 found: HNSW32
# efSearch=128 answered 0.919 there); "tight": tighter clusters, less noise; "anisotropic": a few
# dominant shared directions, dense single-label clusters and 5 % near-copies, as CLIP crops have.
DISTRIBUTIONS: dict[str, dict] = {
    "bench": {},
    "loose": {"clusters": 1000, "spread": 0.8, "iso": 0.5},
    "tight": {"spread": 0.2, "iso": 0.15},
    "anisotropic": {"clusters": 2000, "dominant": 8, "dense": 0.2, "copies": 0.05},
}


@lru_cache(maxsize=8)
def mixture(dim: int = 512, clusters: int = MIXTURE_CLUSTERS, distribution: str = "bench") -> Mixture:
    options = dict(DISTRIBUTIONS[distribution])
    return Mixture(dim, options.pop("clusters", clusters), **options)


def distribution_vectors(name: str, count: int, seed: int) -> np.ndarray:
    """``count`` samples of distribution ``name`` (DISTRIBUTIONS); other seeds: fresh points of it."""
    return mixture(distribution=name).sample(count, seed)


def clustered_vectors(count: int, dim: int = 512, clusters: int = MIXTURE_CLUSTERS, seed: int = 0) -> np.ndarray:
    """``count`` samples of the shared mixture; different seeds are different samples of
    the SAME distribution, so one seed's vectors are fair queries against another's."""
    return mixture(dim, clusters).sample(count, seed)


def near_copies(vectors: np.ndarray, count: int, noise: float = 0.15, seed: int = 0) -> np.ndarray:
    """Perturbed copies of ``count`` stored vectors (cosine ≈ 0.99 to the original): the
    re-upload / re-crop case, whose true first neighbour is the stored original."""
    rng = np.random.default_rng((seed, 104729))
    rows = rng.choice(len(vectors), size=count, replace=False)
    jitter = rng.standard_normal((count, vectors.shape[1])).astype(np.float32) * (noise / np.sqrt(vectors.shape[1]))
    return _unit(vectors[rows] + jitter)


def mixture_with_clusters(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """clustered_vectors, with the cluster each vector was drawn from."""
    return mixture().sample_with_clusters(count, seed)


def rss_and_pss_mb(pid: int | str = "self") -> tuple[float, float]:
    """Resident and proportional set size: PSS splits pages shared by processes (a mapped index) between them."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                values[parts[0]] = int(parts[1]) / 1024
    return values["Rss:"], values["Pss:"]
