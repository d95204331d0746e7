"""Search at 1M crops stored as rows in PostgreSQL: latency, recall, freshness, memory per host.

In a throw-away database (``--keep`` keeps it for the next run), the script stores
``--size`` crops drawn from one mixture (bench/lib/setup.py; clusters stand in for
object classes, and one label covers 1 % of the crops), publishes a FAISS build,
and prints:
- query latency through search.query.candidates.search_vectors (what search_text runs
  after the text model) against the raw FAISS call, and the CLIP text model's own
  time; recall@10 against exact search, for in-distribution queries and for a
  label filter matching 1 % of the crops;
- after storing ``--add`` more crops through the pipeline's store step: whether the
  next query finds them with no build, the time from stored to searchable, the
  tail's cost on query latency, and the incremental update (no full rebuild);
- the memory of four web processes serving the index, memory-mapped versus each
  reading its own copy (RSS and PSS: PSS splits shared pages between processes);
- the worst filters for bounded read paths, beside the plain query: a filter on a
  dataset being deleted (5 % of the crops), and the deepest page (offset
  SEARCH_MAX_DEPTH - k) of a 2-3 % label and of the 1 % one, with the work each
  query did (candidates, FAISS rounds, rows) and how often a cap cut it short;
- with ``--fusion``: text-search latency with full-text fusion (SEARCH_TEXT_FUSION) off
  beside rrf, over one synthetic description per crop generated in SQL, for common,
  mixed and rare queries (bench/lib/text_fusion.py).
  Below 1M crops, SEARCH_FILTER_EXACT_MAX is scaled down so the filters take the
  paths they take at 1M.

    .venv/bin/python bench/search.py [--size 1000000] [--add 10000] [--queries 200] [--keep] [--kind HNSW32] [--fusion]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from lib.setup import mixture, mixture_with_clusters, percentiles_ms, rss_and_pss_mb, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from lib.worst_filters import doomed_dataset, worst_filters  # noqa: E402

from indexing.ann import builds, index_files  # noqa: E402
from indexing.ann import faiss_index as ann  # noqa: E402
from indexing.models import Crop, Dataset, SourceImage  # noqa: E402
from indexing.vectors import copy_crops, exact_nearest  # noqa: E402
from search.query.candidates import search_vectors  # noqa: E402
from search.query.filters import CropFilter  # noqa: E402
from search.query.index_cache import index_holder  # noqa: E402

K = 10
RARE = "sports ball"  # the 1 % label
MID = "handbag"  # the 2-3 % label: past SEARCH_FILTER_EXACT_MAX at 1M, so the index's widening search

# Crops a photo: the layout the planner's joins over photos meet in a real collection (COCO photos
# hold about 7 objects; one photo holding every crop made PostgreSQL plan joins from the photos).
CROPS_PER_PHOTO = 8

# The embedder version stamped on the synthetic crops (search compares only vectors of one version).
VERSION = "bench"


def labels_for(clusters: np.ndarray) -> list[str]:
    """A label per cluster (kinds of object cluster in CLIP space); RARE's hold 1 % of the mixture, MID's 2-3 %."""
    weights = mixture().weights
    order = np.random.default_rng(5).permutation(len(weights))
    cumulative = np.cumsum(weights[order])
    rare_end = int(np.searchsorted(cumulative, 0.01)) + 1
    mid_end = max(int(np.searchsorted(cumulative, cumulative[rare_end - 1] + 0.025)) + 1, rare_end + 1)
    rare, mid = set(order[:rare_end]), set(order[rare_end:mid_end])
    common = [c for c in settings.DETECTOR_CLASSES if c not in (RARE, MID)]
    return [RARE if c in rare else MID if c in mid else common[c % len(common)] for c in clusters]


def load_collection(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The collection's (ids, vectors, labels), stored as crop rows unless the kept database has them."""
    vectors, clusters = mixture_with_clusters(size, seed=1)
    labels = np.asarray(labels_for(clusters))
    Dataset.objects.filter(name="bench-fresh").delete()  # a kept database's crops from the last run's --add
    if Crop.objects.count() != size:
        Crop.objects.all().delete()
        SourceImage.objects.all().delete()
        dataset = Dataset.objects.create(name="bench-search", version=str(time.time_ns()))
        started = time.perf_counter()
        photo_ids = store_photos(dataset, -(-size // CROPS_PER_PHOTO))
        crop_photos = np.repeat(photo_ids, CROPS_PER_PHOTO)[:size]
        for start in range(0, size, 100_000):
            rows = slice(start, start + 100_000)
            copy_crops(image_id=crop_photos[rows], vectors=vectors[rows], labels=list(labels[rows]), version=VERSION)
        print(
            f"stored {size} crop rows on {len(photo_ids)} photos ({CROPS_PER_PHOTO} a photo) with binary COPY "
            f"in {time.perf_counter() - started:.0f} s"
        )
    ids = np.asarray(Crop.objects.order_by("pk").values_list("pk", flat=True))
    return ids, vectors, labels


def store_photos(dataset: Dataset, count: int) -> np.ndarray:
    """``count`` photo rows of the dataset (no files: the bench reads rows, never pixels); their ids in order."""
    photos = (
        SourceImage(dataset=dataset, sha256=f"bench-{i}", file=f"bench/{i}.jpg", width=640, height=480)
        for i in range(count)
    )
    return np.asarray([photo.pk for photo in SourceImage.objects.bulk_create(photos, batch_size=20_000)])


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / max(len(t), 1) for f, t in zip(found, truth, strict=True)]))


def timed_searches(queries: np.ndarray, crop_filter: CropFilter | None) -> tuple[list[list[int]], float, float]:
    found, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        results = search_vectors(query[None, :], K, crop_filter, None, version=VERSION)[0]
        seconds.append(time.perf_counter() - started)
        found.append([r.crop_id for r in results])
    return (found, *percentiles_ms(seconds))


def exact_numpy(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    scores = queries @ vectors.T
    return [list(ids[np.argsort(-row, kind="stable")[:K]]) for row in scores]


def text_model_ms(repeats: int = 20) -> tuple[float, float]:
    from django.core.management import call_command

    from indexing.vision.embedder import get_embedder, reset_embedder

    settings.CLIP_MODEL = os.path.join(settings.VAR_DIR, "bench-clip-base")
    if not os.path.exists(settings.CLIP_MODEL):
        call_command("make_test_clip", settings.CLIP_MODEL, size="base", verbosity=0)
    reset_embedder()
    embedder = get_embedder()
    seconds = []
    for i in range(repeats):
        started = time.perf_counter()
        embedder.embed_texts([f"a photo of object {i}"])
        seconds.append(time.perf_counter() - started)
    return percentiles_ms(seconds[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--add", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database (and its rows) for the next run")
    parser.add_argument("--kind", help="the FAISS factory string of the full build (default: chosen by ann_choice)")
    parser.add_argument("--fusion", action="store_true", help="also time text search with full-text fusion on")
    parser.add_argument("--worker", choices=["mmap", "copy"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return serve_like_a_web_process(args.worker)
    settings.DATABASES["default"]["TEST"]["NAME"] = "bench_search"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keep)
    try:
        run(args)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args) -> None:
    print(f"load average {os.getloadavg()[0]:.2f} at start; {os.cpu_count()} cores")
    ids, vectors, labels = load_collection(args.size)
    doomed = doomed_dataset(ids)
    if args.size < 1_000_000:  # the filter paths as at 1M: a 2-3 % label past the exact-search limit
        settings.SEARCH_FILTER_EXACT_MAX = max(int(settings.SEARCH_FILTER_EXACT_MAX * args.size / 1_000_000), 1)
        print(f"SEARCH_FILTER_EXACT_MAX scaled to {settings.SEARCH_FILTER_EXACT_MAX} for {args.size} crops")
    started = time.perf_counter()
    build = builds.update_index(rebuild=True, kind=args.kind)
    print(f"full build: {build.kind} over {build.size} crops in {time.perf_counter() - started:.0f} s")
    queries = mixture_with_clusters(args.queries, seed=2)[0]
    truth = exact_numpy(vectors, ids, queries)
    sample = queries[:10]
    pg_truth = [[c.pk for c in exact_nearest(Crop.objects.filter(is_active=True), q, K)] for q in sample]
    print(f"exact numpy top-10 equals exact pgvector on {recall(truth[:10], pg_truth):.3f} of 10 queries' ids")

    index_holder.reset()
    search_vectors(queries[:1], K, None, None, version=VERSION)  # map the index
    loaded = index_holder.current(version=VERSION)
    raw = percentiles_ms([timeit(lambda q=q: ann.search(loaded.index, q, K)) for q in queries])
    found, p50, p95 = timed_searches(queries, None)
    print(f"raw FAISS search            p50 {raw[0]:7.2f} ms  p95 {raw[1]:7.2f} ms")
    print(f"search_vectors (ours)       p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  ({p95 / raw[1]:.1f}x raw at p95)")
    print(f"recall@10 vs exact: {recall(found, truth):.3f}")

    rare = labels == RARE
    rare_truth = exact_numpy(vectors[rare], ids[rare], queries)
    found, fp50, fp95 = timed_searches(queries, CropFilter(labels=(RARE,)))
    print(f"label filter ({rare.mean():.1%} of crops) p50 {fp50:7.2f} ms  p95 {fp95:7.2f} ms  recall@10 "
          f"{recall(found, rare_truth):.3f}")  # fmt: skip
    worst_filters(queries, labels, doomed, version=VERSION, k=K, labels_named=(MID, RARE))
    t50, t95 = text_model_ms()
    print(
        f"CLIP text model (ViT-B/32 size, random weights) p50 {t50:.1f} ms p95 {t95:.1f} ms: search_text = this + ours"
    )

    if args.fusion:
        from lib.text_fusion import fusion_latency

        started = time.perf_counter()
        fusion_latency(queries=args.queries, version=VERSION)
        print(f"(the fusion section took {time.perf_counter() - started:.0f} s)")
    fresh(args, ids)
    memory(build)


def timeit(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def store_through_pipeline(vectors: np.ndarray) -> tuple[float, list[int], float]:
    """Store crops as indexing batches do (indexing.pipeline.store.store_batch, 8 crops an image, 16 images a batch)."""
    from PIL import Image

    from indexing.pipeline.store import AnalysedImage, store_batch
    from indexing.vision.crops import PlannedCrop

    dataset = Dataset.objects.create(name="bench-fresh", version=str(time.time_ns()))
    per_image = 8
    images = SourceImage.objects.bulk_create(
        SourceImage(dataset=dataset, sha256=f"fresh-{i}", file=f"bench/fresh-{i}.jpg", width=200, height=200)
        for i in range(len(vectors) // per_image)
    )
    pixels = Image.new("RGB", (96, 96), (120, 80, 40))
    planned = [PlannedCrop("car", 0.9, (float(i), 1.0, float(i) + 50, 60.0), pixels) for i in range(per_image)]
    analysed = [AnalysedImage(im, (200, 200), planned, vectors[n * per_image : (n + 1) * per_image])
                for n, im in enumerate(images)]  # fmt: skip
    started = time.perf_counter()
    for start in range(0, len(analysed), settings.INDEXING_BATCH_SIZE):
        store_batch(
            analysed[start : start + settings.INDEXING_BATCH_SIZE], detector_version="b", embedder_version=VERSION
        )
    stored_at = time.perf_counter()
    new_ids = list(Crop.objects.filter(image__dataset=dataset).order_by("pk").values_list("pk", flat=True))
    return stored_at, new_ids, len(new_ids) / (stored_at - started)


def fresh(args, ids: np.ndarray) -> None:
    """Store ``--add`` crops through the store step; when are they searchable, and what does the update cost?"""
    new_vectors = mixture_with_clusters(args.add, seed=3)[0]
    before = builds.latest_ready_build()
    stored_at, new_ids, rate = store_through_pipeline(new_vectors)
    found = search_vectors(new_vectors[-1:], 1, None, None, version=VERSION)[0]
    searchable_s = time.perf_counter() - stored_at
    hit = bool(found) and found[0].crop_id == new_ids[-1]
    print(f"\nstored {args.add} crops through the store step at {rate:.0f} crops/s")
    print(f"newest crop found by the next query: {hit}, {searchable_s * 1000:.0f} ms after its commit (no build)")
    queries = mixture_with_clusters(args.queries, seed=4)[0]
    _, p50, p95 = timed_searches(queries, None)
    print(f"with {args.add} crops in the SQL tail: search_vectors p50 {p50:.2f} ms p95 {p95:.2f} ms")
    started = time.perf_counter()
    update = builds.update_index()
    took = time.perf_counter() - started
    kind = "update (add_with_ids, no retraining)" if update.parent_id == before.pk else "FULL REBUILD"
    indexed_s = time.perf_counter() - stored_at
    print(f"index {kind}: {update.size} vectors in {took:.1f} s; stored-to-indexed {indexed_s:.1f} s")
    index_holder.reset()
    _, p50, p95 = timed_searches(queries, None)
    print(f"after the update: search_vectors p50 {p50:.2f} ms p95 {p95:.2f} ms")


def memory(build) -> None:
    """Four processes serving the index like gunicorn workers: mapped versus copied."""
    print("\nfour web processes serving the index (each ran 1000 searches):")
    from tests.workers import test_database_url  # the URL of the database this process uses

    database_url = test_database_url()
    for mode in ("mmap", "copy"):
        env = {**os.environ, "DATABASE_URL": database_url}
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", mode], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]  # fmt: skip
        reports = [json.loads(p.stdout.readline()) for p in procs]
        totals = [rss_and_pss_mb(p.pid) for p in procs]
        for p in procs:
            p.stdin.close()
            p.wait()
        rss, pss = sum(t[0] for t in totals), sum(t[1] for t in totals)
        base = sum(r["before_index_pss"] for r in reports)
        print(f"  {mode:>4}: RSS {rss:7.0f} MB, PSS {pss:7.0f} MB in all; index's share of PSS {pss - base:7.0f} MB "
              f"(file {reports[0]['file_mb']:.0f} MB)")  # fmt: skip


def serve_like_a_web_process(mode: str) -> None:
    before = rss_and_pss_mb()[1]
    build = builds.latest_ready_build()
    index = index_holder.current(version=VERSION).index if mode == "mmap" else index_files.read_index(build, mmap=False)
    for query in mixture_with_clusters(1000, seed=5)[0]:
        ann.search(index, query, K)
    file_mb = os.path.getsize(index_files.local_file(build)) / 1e6
    print(json.dumps({"before_index_pss": before, "file_mb": file_mb}), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
