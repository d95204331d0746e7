"""Crops/s written by the pipeline's store step, at 0, 100k and 1M crops already stored.

A GPU fleet embeds thousands of crops a second, so one writer must store at least
that many. The script runs in a throw-away database (created with the migrations,
dropped at the end) and times, at each collection size:
- ``store``: indexing.pipeline.store.store_batch as a batch calls it (crop JPEG files, one
  binary COPY for the batch's rows, its images marked done, one transaction);
- ``orm rows``: the path it replaced, rows alone: bulk_create, one image at a time;
- ``copy``: the collection itself grown with binary COPY (the bench's own loader).
With ``--hnsw`` the pgvector HNSW index on the embedding is created first, to see
what maintaining it costs (at 0 and 100k rows: building one over 1M takes too long
on two cores, and the numbers below 1M already decide).

    .venv/bin/python bench/store.py [--sizes 0,100000,1000000] [--crops 4000] [--hnsw]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from lib.setup import clustered_vectors, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from PIL import Image  # noqa: E402

from indexing.models import Crop, Dataset, SourceImage  # noqa: E402
from indexing.pipeline.store import AnalysedImage, store_batch  # noqa: E402
from indexing.vectors import copy_crops  # noqa: E402
from indexing.vision.crops import PlannedCrop  # noqa: E402

CROPS_PER_IMAGE = 8


def grow(image: SourceImage, count: int) -> float:
    """Add ``count`` crops with binary COPY; returns crops/s."""
    started = time.perf_counter()
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        vectors = clustered_vectors(n, seed=start + 7)
        labels = [settings.DETECTOR_CLASSES[i % len(settings.DETECTOR_CLASSES)] for i in range(n)]
        copy_crops(image_id=image.pk, vectors=vectors, labels=labels, version="bench")
    return count / max(time.perf_counter() - started, 1e-9)


def pending_images(dataset: Dataset, count: int, tag: str) -> list[SourceImage]:
    return SourceImage.objects.bulk_create(
        SourceImage(dataset=dataset, sha256=f"{tag}-{i:08d}", file=f"bench/{tag}-{i}.jpg") for i in range(count)
    )


def time_store(dataset: Dataset, crops: int, tag: str) -> float:
    """The pipeline's store step over ``crops`` crops (8 per image); returns crops/s."""
    images = pending_images(dataset, crops // CROPS_PER_IMAGE, tag)
    vectors = clustered_vectors(crops, seed=11)
    pixels = Image.new("RGB", (96, 96), (120, 80, 40))
    planned = [PlannedCrop("person", 0.9, (float(i), 1.0, float(i) + 50, 60.0), pixels) for i in range(CROPS_PER_IMAGE)]
    analysed = [
        AnalysedImage(image, (200, 200), planned, vectors[n * CROPS_PER_IMAGE : (n + 1) * CROPS_PER_IMAGE])
        for n, image in enumerate(images)
    ]
    started = time.perf_counter()
    for start in range(0, len(analysed), settings.INDEXING_BATCH_SIZE):
        store_batch(analysed[start : start + settings.INDEXING_BATCH_SIZE], detector_version="b", embedder_version="b")
    return crops / (time.perf_counter() - started)


def time_rows(image: SourceImage, crops: int) -> float:
    """The ORM path the store step used before: bulk_create, one transaction per image."""
    vectors = clustered_vectors(crops, seed=13)
    started = time.perf_counter()
    for start in range(0, crops, CROPS_PER_IMAGE):
        Crop.objects.bulk_create(
            Crop(
                image=image, label="car", confidence=0.5, x1=0, y1=0, x2=5, y2=5, embedding=v,
                detector_version="bench", embedder_version="bench",
            )
            for v in vectors[start : start + CROPS_PER_IMAGE]
        )  # fmt: skip
    return crops / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="0,100000,1000000")
    parser.add_argument("--crops", type=int, default=4000, help="crops stored per measurement")
    parser.add_argument("--hnsw", action="store_true", help="maintain pgvector's HNSW index on the embedding")
    args = parser.parse_args()
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-store-")
    settings.DATABASES["default"]["TEST"]["NAME"] = "bench_store"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS crop_embedding_hnsw")
            if args.hnsw:
                cursor.execute(
                    "CREATE INDEX bench_crop_hnsw ON indexing_crop USING hnsw (embedding vector_cosine_ops) "
                    "WITH (m = 16, ef_construction = 64)"
                )
        print(f"pgvector HNSW index maintained: {args.hnsw}; load average {os.getloadavg()[0]:.2f}")
        print(f"{'rows before':>12} {'store crops/s':>14} {'orm rows crops/s':>17} {'grow (COPY) crops/s':>20}")
        dataset = Dataset.objects.create(name="bench-store")
        holder = SourceImage.objects.create(dataset=dataset, sha256="holder", file="bench/holder.jpg")
        copy_rate = float("nan")
        for size in [int(s) for s in args.sizes.split(",")]:
            have = Crop.objects.count()
            if size > have:
                copy_rate = grow(holder, size - have)
            store = time_store(dataset, args.crops, f"s{size}")
            rows = time_rows(holder, args.crops)
            print(f"{size:>12} {store:>14.0f} {rows:>17.0f} {copy_rate:>20.0f}", flush=True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
