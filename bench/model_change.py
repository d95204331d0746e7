"""Model changes timed: re-embed and redetect on real photos, and the re-embed's switch at scale.

Part 1, real photos: ``--photos`` COCO128 photos are indexed with yolov5n and a CLIP
of ViT-B/32's architecture (random weights: the real model's cost, offline), then
- re-embedded with a second such CLIP (indexing.model_changes.reembed.run_reembed: cut again,
  embed, stage, build, switch), beside the same crops embedded by the model alone;
- detected again with the same weights under another name (indexing.model_changes.redetect),
  beside the indexing job's own photos/s.
Part 2, the switch at scale: ``--crops`` synthetic crops with staged vectors of a new
version (written by binary COPY, no model), then the index build from the staged
vectors and the switch's one transaction are timed.

Runs in a throw-away database (bench_model_change) and temporary media folders.

    .venv/bin/python bench/model_change.py [--photos 64] [--crops 200000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from lib.setup import clustered_vectors, setup_django

setup_django()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402

from indexing.ann import builds  # noqa: E402
from indexing.catalog import ingest  # noqa: E402
from indexing.model_changes import redetect, reembed  # noqa: E402
from indexing.models import Crop, Dataset, ModelChange, SourceImage, StagedEmbedding  # noqa: E402
from indexing.pipeline import jobs  # noqa: E402
from indexing.vectors import copy_crops  # noqa: E402
from indexing.vision.embedder import get_embedder, reset_embedder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--crops", type=int, default=200_000)
    parser.add_argument("--only", choices=["photos", "switch"], help="run one part")
    args = parser.parse_args()
    settings.DATABASES["default"]["TEST"]["NAME"] = "bench_model_change"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-model-change-"))
    try:
        print(f"load average {os.getloadavg()[0]:.2f} at start; {os.cpu_count()} cores")
        with override_settings(MEDIA_ROOT=scratch / "media", INDEX_ROOT=scratch / "indexes"):
            if args.only != "switch":
                real_photos(args.photos, scratch)
            if args.only != "photos":
                switch_at_scale(args.crops)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(scratch, ignore_errors=True)


def real_photos(count: int, scratch: Path) -> None:
    assets = Path(settings.SHARED_ASSETS_DIR)
    clip_a, clip_b = scratch / "clip-a", scratch / "clip-b"
    call_command("make_test_clip", str(clip_a), size="base", seed=0, verbosity=0)
    call_command("make_test_clip", str(clip_b), size="base", seed=1, verbosity=0)
    weights = assets / "weights" / "yolov5n.pt"
    retrained = scratch / "yolov5n-retrained.pt"
    shutil.copy(weights, retrained)
    with override_settings(CLIP_MODEL=str(clip_a), DETECTOR_WEIGHTS=str(weights)):
        reset_embedder()
        photos = sorted((assets / "coco128" / "images" / "train2017").glob("*.jpg"))[:count]
        dataset = Dataset.objects.create(name="bench-model-change")
        ingest.ingest_files(dataset, [(path, "") for path in photos])
        job, ids = jobs.create_job(dataset)
        started = time.perf_counter()
        jobs.after_job(jobs.run_job(job, ids))
        seconds = time.perf_counter() - started
        crops = Crop.objects.count()
        print(f"indexed {len(ids)} photos, {crops} crops in {seconds:.1f} s: {len(ids) / seconds:.2f} photos/s")

        rows = list(Crop.objects.order_by("pk").values_list("pk", "image_id", "x1", "y1", "x2", "y2", named=True))
        pixels = reembed.cut_again([reembed.CropRow(r.pk, r.image_id, (r.x1, r.y1, r.x2, r.y2)) for r in rows])
        model = get_embedder(str(clip_b))
        started = time.perf_counter()
        model.embed_images(pixels)
        alone = crops / (time.perf_counter() - started)
        change = reembed.start_reembed(model=str(clip_b))
        started = time.perf_counter()
        change = reembed.run_reembed(change_id=change.pk)
        ours = crops / (time.perf_counter() - started)
        assert change.status == ModelChange.Status.DONE
        print(
            f"re-embed {crops} crops: {ours:.1f} crops/s end to end (cut, embed, stage, build, switch); "
            f"the model alone {alone:.1f} crops/s ({ours / alone:.2f}x)"
        )

        change = redetect.start_redetect(weights=str(retrained))
        started = time.perf_counter()
        change = redetect.run_redetect(change_id=change.pk)
        seconds = time.perf_counter() - started
        print(
            f"redetect {change.processed} photos: {change.processed / seconds:.2f} photos/s "
            f"({Crop.objects.count()} crops after, {crops} before)"
        )
        reset_embedder()


def switch_at_scale(count: int) -> None:
    """A re-embed with every vector staged: the new index's build and the switch, at ``count`` crops."""
    dataset = Dataset.objects.create(name="bench-switch")
    images = SourceImage.objects.bulk_create(
        [SourceImage(dataset=dataset, file=f"x/{i}.jpg", sha256=f"{i:064x}", status="done") for i in range(100)]
    )
    vectors = clustered_vectors(count, seed=4)
    per_image = -(-count // len(images))
    for number, image in enumerate(images):
        part = vectors[number * per_image : (number + 1) * per_image]
        copy_crops(image_id=image.pk, vectors=part, labels=["person"] * len(part), version="A")
    ids = np.asarray(Crop.objects.filter(image__dataset=dataset).order_by("pk").values_list("pk", flat=True))
    builds.publish_build(version="A")
    started = time.perf_counter()
    stage(ids, clustered_vectors(len(ids), seed=5), "B")
    print(f"staged {len(ids)} vectors by COPY in {time.perf_counter() - started:.1f} s")
    change = ModelChange.objects.create(
        kind=ModelChange.Kind.EMBEDDER,
        source="bench",
        version="B",
        total=len(ids),
        processed=len(ids),
        cursor=int(ids.max()),
        status=ModelChange.Status.RUNNING,
    )
    started = time.perf_counter()
    build = builds.publish_build(version="B", staged=True, max_crop_id=change.cursor)
    built = time.perf_counter() - started
    started = time.perf_counter()
    reembed.switch(change, embedder=None)  # every crop is staged: the model is not needed
    switched = time.perf_counter() - started
    assert set(Crop.objects.filter(image__dataset=dataset).values_list("embedder_version", flat=True)) == {"B"}
    print(
        f"switch at {len(ids)} crops: new index ({build.kind}) built from staged vectors in {built:.1f} s; "
        f"the switch transaction (store step blocked) {switched:.1f} s ({len(ids) / switched:.0f} crops/s)"
    )


def stage(ids: np.ndarray, vectors: np.ndarray, version: str) -> None:
    """Staged vectors for ``ids`` by binary COPY, as if a re-embed had run."""
    from pgvector.psycopg.vector import register_vector_info
    from psycopg.types import TypeInfo

    connection.ensure_connection()
    table = StagedEmbedding._meta.db_table
    with psycopg.Cursor(connection.connection) as raw:
        register_vector_info(raw, TypeInfo.fetch(connection.connection, "vector"))
        with raw.copy(f"COPY {table} (crop_id, version, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "vector"])
            for pk, vector in zip(ids, vectors, strict=True):
                copy.write_row((int(pk), version, vector))


if __name__ == "__main__":
    main()
