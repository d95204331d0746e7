"""FAISS indexes over crop embeddings: choose a type, build, save, load, search.

Vectors are L2-normalised CLIP embeddings, so inner product = cosine similarity.
FAISS ids are ``Crop.pk``. The index is derived data: PostgreSQL holds the truth
and an index can always be rebuilt from it.
"""

from __future__ import annotations

import logging
import time

import faiss
import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)

FLAT = "Flat"


def choose_kind(size: int) -> str:
    """The FAISS index type for ``size`` vectors, unless ``ANN_INDEX_KIND`` forces one.

    Thresholds come from ``bench/ann.py`` on this project's hardware: exact search
    stays fast enough up to ``ANN_FLAT_MAX`` vectors; beyond that IVF with 8-bit
    scalar codes (512 bytes a vector, a quarter of Flat) kept the best recall@10 and
    bounded memory. HNSW32 serves sizes up to ``ANN_HNSW_MAX`` when that is set
    (0 by default: it recalled least on the benchmark's clustered vectors). For still less memory set
    ``ANN_INDEX_KIND`` to an IVF-PQ string (e.g. ``IVF65536,PQ64x4fs,Refine(SQ8)``);
    ``bench/ann.py`` prints the recall each costs.
    """
    if settings.ANN_INDEX_KIND != "auto":
        return settings.ANN_INDEX_KIND
    if size <= settings.ANN_FLAT_MAX:
        return FLAT
    if size <= settings.ANN_HNSW_MAX:
        return "HNSW32"
    return f"IVF{ivf_lists(size)},SQ8"


def ivf_lists(size: int) -> int:
    # About 4*sqrt(n) lists, a power of two, with at least 39 training points per list.
    lists = 1 << int(np.log2(max(4 * np.sqrt(size), 16)))
    return int(min(lists, max(16, size // 39)))


def gpu_available() -> bool:
    return hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0


def make_index(vectors: np.ndarray, ids: np.ndarray, kind: str | None = None, use_gpu: bool = False) -> faiss.Index:
    """An inner-product index of ``kind`` over ``vectors`` labelled ``ids``, in memory.

    builds.publish_build stores and publishes one over the active crops.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"expected (n, d) vectors and n ids, got {vectors.shape} and {ids.shape}")
    kind = kind or choose_kind(len(vectors))
    started = time.perf_counter()
    # Plain IVF indexes take ids natively; Flat, HNSW and refined indexes need an id map.
    native_ids = kind.startswith("IVF") and "Refine" not in kind and "RFlat" not in kind
    description = kind if native_ids else f"IDMap2,{kind}"
    index = faiss.index_factory(vectors.shape[1], description, faiss.METRIC_INNER_PRODUCT)
    device_index = to_gpu(index, kind) if use_gpu else index
    if not device_index.is_trained:
        device_index.train(training_sample(vectors))
    device_index.add_with_ids(vectors, ids)
    if device_index is not index:
        index = faiss.index_gpu_to_cpu(device_index)
    configure_search(index)
    logger.info("Built FAISS %s over %d vectors in %.2f s", kind, len(vectors), time.perf_counter() - started)
    return index


def training_sample(vectors: np.ndarray, limit: int = 100_000) -> np.ndarray:
    """A seeded subsample: k-means quality saturates long before the full set."""
    if len(vectors) <= limit:
        return vectors
    rows = np.random.default_rng(0).choice(len(vectors), limit, replace=False)
    return vectors[np.sort(rows)]


def to_gpu(index: faiss.Index, kind: str) -> faiss.Index:
    """Move ``index`` to GPU 0 when faiss-gpu and a GPU are present; say so when not."""
    if not gpu_available():
        logger.warning("GPU index build asked for, but no FAISS GPU support found; building %s on CPU", kind)
        return index
    if "HNSW" in kind:
        logger.warning("FAISS has no GPU HNSW; building %s on CPU", kind)
        return index
    resources = faiss.StandardGpuResources()
    return faiss.index_cpu_to_gpu(resources, 0, index)


def configure_search(index: faiss.Index) -> None:
    """Apply the search-time knobs (HNSW efSearch, IVF nprobe) from settings."""
    parameters = faiss.ParameterSpace()
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    if isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efSearch = settings.ANN_HNSW_EF_SEARCH
    elif hasattr(faiss, "IndexIVF") and isinstance(faiss.try_extract_index_ivf(index), faiss.IndexIVF):
        parameters.set_index_parameter(index, "nprobe", settings.ANN_IVF_NPROBE)


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (scores, ids) per query; missing neighbours have id -1."""
    # One query at a time is faster single-threaded: OpenMP start-up costs more than it saves,
    # and a web process serves many requests at once anyway.
    faiss.omp_set_num_threads(settings.ANN_SEARCH_THREADS)
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    return index.search(queries, k)


def remove_ids(index: faiss.Index, ids: np.ndarray) -> int:
    """Remove ``ids`` from the index where its type allows (not HNSW: search drops repeats instead)."""
    if not len(ids):
        return 0
    try:
        return int(index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))))
    except RuntimeError:
        logger.info("%s cannot remove ids; %d re-added crops stay twice until the next full build", index, len(ids))
        return 0


def serialize(index: faiss.Index) -> bytes:
    return faiss.serialize_index(index).tobytes()


def deserialize(data: bytes) -> faiss.Index:
    index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    configure_search(index)
    return index
