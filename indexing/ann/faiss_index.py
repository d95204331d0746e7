"""FAISS indexes over crop embeddings: choose a type, build, save, load, search.

Vectors are L2-normalised CLIP embeddings, so inner product = cosine similarity.
FAISS ids are ``Crop.pk``. The index is derived data: PostgreSQL holds the truth
and an index can always be rebuilt from it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import faiss
import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)

FLAT = "Flat"

# Search-time knobs an IndexConfig may carry; configure_search reaches them through the
# IDMap2 and Refine wrappers (nprobe on the IVF base, k_factor on the refinement).
SEARCH_PARAMS = ("efSearch", "nprobe", "k_factor")


@dataclass(frozen=True)
class IndexConfig:
    """What to build (a FAISS factory string) and how to search it (``efSearch``,
    ``nprobe``, ``k_factor``). The search parameters belong to the build: the chooser
    picked them together, from ``indexing/ann/ann_table.json``."""

    factory: str
    params: dict[str, int | float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.params) - set(SEARCH_PARAMS)
        if unknown:
            raise ValueError(f"unknown FAISS search parameters {sorted(unknown)}; expected some of {SEARCH_PARAMS}")

    def to_dict(self) -> dict:
        return {"factory": self.factory, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict) -> IndexConfig:
        return cls(factory=data["factory"], params=dict(data.get("params") or {}))


def ivf_lists(size: int) -> int:
    # About 4*sqrt(n) lists, a power of two, with at least 39 training points per list.
    lists = 1 << int(np.log2(max(4 * np.sqrt(size), 16)))
    return int(min(lists, max(16, size // 39)))


def gpu_available() -> bool:
    return hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0


def make_index(vectors: np.ndarray, ids: np.ndarray, config: IndexConfig | str, use_gpu: bool = False) -> faiss.Index:
    """An inner-product index over ``vectors`` labelled ``ids``, in memory, configured to
    search with ``config``'s parameters. ``config`` may be a bare factory string (searched
    with the settings' defaults); indexing.ann.choice picks one for a collection's size.

    builds.publish_build stores and publishes one over the active crops.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"expected (n, d) vectors and n ids, got {vectors.shape} and {ids.shape}")
    if isinstance(config, str):
        config = IndexConfig(config)
    kind = config.factory
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
    configure_search(index, config.params or None)
    logger.info(
        "Built FAISS %s %s over %d vectors in %.2f s", kind, config.params, len(vectors), time.perf_counter() - started
    )
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


def default_search_params() -> dict[str, int | float]:
    return {
        "efSearch": settings.ANN_HNSW_EF_SEARCH,
        "nprobe": settings.ANN_IVF_NPROBE,
        "k_factor": settings.ANN_REFINE_K_FACTOR,
    }


def configure_search(index: faiss.Index, params: dict[str, int | float] | None = None) -> None:
    """Apply search-time knobs (HNSW efSearch, IVF nprobe, Refine k_factor) to ``index``.

    Knobs ``params`` does not give come from settings (``ANN_HNSW_EF_SEARCH``,
    ``ANN_IVF_NPROBE``, ``ANN_REFINE_K_FACTOR``); knobs the index type lacks are skipped.
    """
    values = {**default_search_params(), **(params or {})}
    refine, hnsw, ivf = search_parts(index)
    if refine is not None:
        refine.k_factor = float(values["k_factor"])
    if hnsw is not None:
        hnsw.hnsw.efSearch = int(values["efSearch"])
    if ivf is not None:
        ivf.nprobe = int(values["nprobe"])


def search_params(index: faiss.Index) -> dict[str, int | float]:
    """The knobs ``index`` searches with now (read back from FAISS)."""
    refine, hnsw, ivf = search_parts(index)
    out: dict[str, int | float] = {}
    if refine is not None:
        out["k_factor"] = float(refine.k_factor)
    if hnsw is not None:
        out["efSearch"] = int(hnsw.hnsw.efSearch)
    if ivf is not None:
        out["nprobe"] = int(ivf.nprobe)
    return out


def search_parts(index: faiss.Index) -> tuple:
    """The (IndexRefine, IndexHNSW, IndexIVF) inside ``index``'s wrappers, None where absent."""
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
    refine = inner if isinstance(inner, faiss.IndexRefine) else None
    if refine is not None:
        inner = faiss.downcast_index(refine.base_index)
    hnsw = inner if isinstance(inner, faiss.IndexHNSW) else None
    return refine, hnsw, faiss.try_extract_index_ivf(inner)


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (scores, ids) per query; missing neighbours have id -1.

    An HNSW's beam (efSearch) is tuned for the first page; FAISS returns at most about that
    many neighbours whatever ``k`` asks, so a deeper fetch (a filter widening, a deep page)
    would stop at the beam's reach. For ``k`` past efSearch this one call searches with a
    beam of ``k`` (per-call parameters: the shared index is never changed under other threads).
    """
    # One query at a time is faster single-threaded: OpenMP start-up costs more than it saves,
    # and a web process serves many requests at once anyway.
    faiss.omp_set_num_threads(settings.ANN_SEARCH_THREADS)
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    return index.search(queries, k, params=_wide_enough(index, k))


def _wide_enough(index: faiss.Index, k: int) -> faiss.SearchParameters | None:
    """Per-call HNSW parameters with efSearch >= ``k`` when the index's own beam is narrower (else None)."""
    refine, hnsw, _ = search_parts(index)
    if hnsw is None or refine is not None or hnsw.hnsw.efSearch >= k:
        return None  # refined HNSW indexes are not built by the chooser; their beam stays as tuned
    params = faiss.SearchParametersHNSW()
    params.efSearch = int(k)
    return params


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


def deserialize(data: bytes, params: dict[str, int | float] | None = None) -> faiss.Index:
    """The index ``data`` holds, searching with ``params`` (the build's; None: settings)."""
    index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    configure_search(index, params)
    return index
