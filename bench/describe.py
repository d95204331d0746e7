"""Descriptions: how fast the local captioner describes crops, and what fused text search costs.

- descriptions/s of a BLIP captioner on this machine's CPU (or ``--device cuda``): a random
  BLIP of ``manage.py make_test_blip`` (``--blip-size tiny``: what the tests run, its speed
  is the code around the model; ``base``: the default DESCRIPTIONS_MODEL's architecture,
  its cost without its weights), or ``--model`` a hub id / directory when cached;
- text-search latency (p50, p95) with SEARCH_TEXT_FUSION off beside rrf, over a throw-away
  database of ``--size`` crops (bench/lib/setup.py's mixture), each with a description drawn
  from a small vocabulary, and a FAISS build: what search_text runs after the CLIP text
  model (the same query vectors both ways; the words of rrf go through websearch_to_tsquery).

    .venv/bin/python bench/describe.py [--size 100000] [--queries 100] [--crops 64] [--blip-size tiny|base]
        [--model M] [--device cpu] [--skip-search]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from lib.setup import mixture_with_clusters, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from lib.captioner import captioner_rate  # noqa: E402
from lib.text_fusion import latency_ms, rankers  # noqa: E402

from indexing.ann import builds  # noqa: E402
from indexing.models import Crop, Dataset, Description, SourceImage  # noqa: E402
from indexing.vectors import copy_crops  # noqa: E402
from search.query.index_cache import index_holder  # noqa: E402

VERSION = "bench"
K = 12
COLOURS = ["red", "blue", "green", "black", "white", "grey", "yellow", "orange", "brown", "silver"]
THINGS = ["car", "truck", "bus", "bicycle", "person", "dog", "umbrella", "backpack", "handbag", "bench"]
PLACES = ["street", "road", "park", "station", "shop", "beach", "field", "crossing", "garden", "bridge"]


def sentence(rng: np.random.Generator) -> str:
    return f"a {rng.choice(COLOURS)} {rng.choice(THINGS)} near the {rng.choice(PLACES)}"


def store_collection(size: int) -> None:
    vectors, _ = mixture_with_clusters(size, seed=1)
    dataset = Dataset.objects.create(name="bench-describe", version=str(time.time_ns()))
    image = SourceImage.objects.create(dataset=dataset, sha256="bench", file="bench.jpg", width=10, height=10)
    started = time.perf_counter()
    for start in range(0, size, 100_000):
        rows = vectors[start : start + 100_000]
        copy_crops(image_id=image.pk, vectors=rows, labels=["car"] * len(rows), version=VERSION)
    rng = np.random.default_rng(3)
    ids = list(Crop.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 10_000):
        Description.objects.bulk_create(
            [
                Description(crop_id=pk, text=sentence(rng), model="bench", prompt="")
                for pk in ids[start : start + 10_000]
            ]
        )
    with connection.cursor() as cursor:  # the statistics autovacuum would gather: plans as in a live database
        cursor.execute("ANALYZE")
    print(f"stored {size} crops and {size} descriptions in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    build = builds.update_index(rebuild=True)
    print(f"full build: {build.kind} over {build.size} crops in {time.perf_counter() - started:.0f} s")


def search_latency(queries: int) -> None:
    rng = np.random.default_rng(4)
    vectors = mixture_with_clusters(queries, seed=2)[0]
    words = [f"{rng.choice(COLOURS)} {rng.choice(THINGS)}" for _ in range(queries)]
    index_holder.reset()

    for name, call in zip(("off", "rrf"), rankers(VERSION), strict=True):
        p50, p95 = latency_ms(call, vectors, words)
        print(f"text search SEARCH_TEXT_FUSION={name:3}  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  ({queries} queries)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="crops (each described) of the search collection")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--crops", type=int, default=64, help="crops the captioner describes")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--model", help="a BLIP hub id or directory (default: a random BLIP of --blip-size)")
    parser.add_argument("--blip-size", choices=["tiny", "base"], default="tiny", help="the random BLIP's towers")
    parser.add_argument("--tokens", type=int, default=20, help="new tokens per caption (a real one is 10-20)")
    parser.add_argument("--device", help="cpu, cuda (default: MODEL_DEVICE)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; 1 on a loaded machine)")
    parser.add_argument("--skip-search", action="store_true", help="the captioner only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.2f} at start; {os.cpu_count()} cores")
    captioner_rate(args.model, args.blip_size, args.device, args.crops, args.batch, args.tokens)
    if args.skip_search:
        return
    settings.DATABASES["default"]["TEST"]["NAME"] = "bench_describe"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        store_collection(args.size)
        search_latency(args.queries)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
