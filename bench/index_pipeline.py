"""End-to-end indexing throughput on COCO128 next to the model-only bound.

Measures, in one run on this machine:
- detector only: images/s over the COCO128 images (DETECTOR_BATCH_SIZE batches);
- embedder only: crops/s over the crops the crop policy keeps;
- the model-only bound: images/s if the pipeline did nothing but run the two models;
- embed_and_index end to end (ingest, decode, detect, crop, store crop files, embed,
  insert rows, build the index), in images/s and crops/s, and its share of the bound.

    .venv/bin/python bench/index_pipeline.py [--images 128] [--clip base|tiny]

Uses the shared yolov5n.pt and a random-weight CLIP of the ViT-B/32 architecture
(`make_test_clip --size base`): the same cost as the real model. The indexed rows go
to a throw-away dataset that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from lib.setup import peak_rss_mb, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from indexing.models import Crop, Dataset, IndexBuild  # noqa: E402
from indexing.vision.crops import CropPolicy, plan_crops  # noqa: E402
from indexing.vision.detector import get_detector, reset_detector  # noqa: E402
from indexing.vision.embedder import get_embedder, reset_embedder  # noqa: E402
from indexing.vision.images import load_image  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--clip", choices=["base", "tiny"], default="base")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    settings.DETECTOR_WEIGHTS = str(settings.SHARED_ASSETS_DIR / "weights" / "yolov5n.pt")
    settings.CLIP_MODEL = str(work / "clip")
    settings.MEDIA_ROOT = work / "media"
    call_command("make_test_clip", settings.CLIP_MODEL, size=args.clip, verbosity=0)
    reset_detector()
    reset_embedder()
    photos = work / "photos"
    photos.mkdir()
    sources = sorted((settings.SHARED_ASSETS_DIR / "coco128" / "images" / "train2017").glob("*.jpg"))[: args.images]
    for path in sources:
        shutil.copy(path, photos / path.name)

    detector, embedder, policy = get_detector(), get_embedder(), CropPolicy.from_settings()
    images = [load_image(p) for p in sorted(photos.iterdir())]
    detector.detect(images[:2])  # warm-up
    started = time.perf_counter()
    detections = detector.detect(images)
    detect_s = time.perf_counter() - started
    crops = [
        c.pixels for image, found in zip(images, detections, strict=True) for c in plan_crops(image, found, policy)
    ]
    embedder.embed_images(crops[:2])
    started = time.perf_counter()
    embedder.embed_images(crops)
    embed_s = time.perf_counter() - started
    bound = len(images) / (detect_s + embed_s)
    print(f"images {len(images)}, crops {len(crops)}, CLIP {args.clip}, device {detector.device}")
    print(f"detector only   {len(images) / detect_s:7.2f} images/s")
    print(f"embedder only   {len(crops) / embed_s:7.2f} crops/s")
    print(f"model-only bound {bound:6.2f} images/s")

    builds_before = set(IndexBuild.objects.values_list("pk", flat=True))
    started = time.perf_counter()
    call_command("embed_and_index", dataset_path=photos, split="all", stdout=open("/dev/null", "w"))  # noqa: SIM115
    total_s = time.perf_counter() - started
    dataset = Dataset.objects.get(root_path=str(photos.resolve()))
    stored = Crop.objects.filter(image__dataset=dataset).count()
    print(
        f"end to end      {len(images) / total_s:7.2f} images/s, {stored / total_s:.2f} crops/s "
        f"({100 * len(images) / total_s / bound:.0f}% of the model-only bound; {total_s:.1f} s)"
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB")

    dataset.delete()
    for build in IndexBuild.objects.exclude(pk__in=builds_before):
        build.file.delete(save=False)
        build.delete()
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
