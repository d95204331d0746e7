"""Throughput of the vision models on COCO128: images/s for batch sizes 1, 8 and 32; text-query ms.

    python bench/vision.py [--images N] [--queries N] [--open-vocabulary N] [--descriptions N] [--detectors-only]

Open-vocabulary detectors (``--open-vocabulary N`` photos, 0 skips): photos/s one photo at a
time, YOLOv5n beside OWL-ViT (owlvit-base-patch32's architecture) and OWLv2
(owlv2-base-patch16-ensemble's), both written by make_test_owlvit with random weights: no
weights can be downloaded offline, and the cost is the architecture's, not the weights'.

Descriptions (``--descriptions N`` crops, 0 skips): descriptions/s of the default local
captioner, DESCRIPTIONS_MODEL when it is a local directory, else a random BLIP of its
architecture (make_test_blip --size base: the real model's cost, no meaning), on
MODEL_DEVICE (the GPU when there is one); bench/describe.py times it with more options.

Text queries: one query at a time, as search embeds them, through the CLIP's text tower
and through the multilingual text encoder (TEXT_ENCODER when it is a local folder, else
a random one of clip-ViT-B-32-multilingual-v1's student shape).

Uses the shared yolov5n.pt and CLIP_MODEL when it is a local directory, else a test
CLIP of the ViT-B/32 architecture written to a temporary directory (random weights:
the real model's cost, no meaning).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visualsearch.settings")
os.environ.setdefault("DEBUG", "true")  # a bench on a developer machine, as lib/setup.py does

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from lib.captioner import captioner_rate  # noqa: E402

from indexing.vision.detector import Detector  # noqa: E402
from indexing.vision.embedder import Embedder  # noqa: E402
from indexing.vision.images import load_image  # noqa: E402
from indexing.vision.owlvit import OpenVocabularyDetector  # noqa: E402
from indexing.vision.text_encoder import TextEncoder  # noqa: E402

BATCH_SIZES = (1, 8, 32)
# Korean, English, Japanese, German: the multilingual encoder's users' words (and the CLIP's, for its cost).
QUERIES = ("빨간 자동차", "a red car parked on the street", "公園の犬", "eine Frau mit Handtasche", "책상 위의 노트북")
VOCABULARY = ("backpack", "traffic cone", "coffee mug", "person", "car", "cell phone", "laptop", "book")
# make_test_owlvit --kind: what it stands in for
OPEN_VOCABULARY_MODELS = {"owlvit": "owlvit-base-patch32", "owlv2": "owlv2-base-patch16-ensemble"}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def throughput(run, images, batch_size: int) -> float:
    run(images[:batch_size])  # warm-up: first calls allocate and pick kernels
    started = time.perf_counter()
    for start in range(0, len(images), batch_size):
        run(images[start : start + batch_size])
    return len(images) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=64, help="how many COCO128 images to time")
    parser.add_argument("--queries", type=int, default=50, help="how many text queries to time per encoder")
    parser.add_argument(
        "--open-vocabulary", type=int, default=8, help="photos to time the open-vocabulary detectors on (0: none)"
    )
    parser.add_argument(
        "--descriptions", type=int, default=4, help="crops to time the default local captioner on (0: none)"
    )
    parser.add_argument("--detectors-only", action="store_true", help="skip the embedders and text encoders")
    args = parser.parse_args()
    assets = Path(settings.SHARED_ASSETS_DIR)
    paths = sorted((assets / "coco128" / "images" / "train2017").glob("*.jpg"))[
        : max(args.images, args.open_vocabulary)
    ]
    images = [load_image(path) for path in paths]
    print(f"{len(images)} COCO128 images, torch threads {__import__('torch').get_num_threads()}")
    if args.open_vocabulary:
        open_vocabulary_rates(images[: args.open_vocabulary], assets / "weights" / "yolov5n.pt")
    images = images[: args.images]

    for batch_size in BATCH_SIZES:
        detector = Detector(assets / "weights" / "yolov5n.pt", batch_size=batch_size)
        rate = throughput(detector.detect, images, batch_size)
        print(f"detector {detector.version} on {detector.device} batch {batch_size:2d}: {rate:6.1f} images/s")
    print(f"peak RSS after detector: {peak_rss_mib():.0f} MiB")
    if args.descriptions:
        captioner = settings.DESCRIPTIONS_MODEL if Path(settings.DESCRIPTIONS_MODEL).is_dir() else None
        # 20 new tokens: a real caption's length; batches of 4, as a worker describes a step.
        captioner_rate(captioner, "base", None, args.descriptions, min(args.descriptions, 4), 20)
        print(f"peak RSS after captioner: {peak_rss_mib():.0f} MiB")
    if args.detectors_only:
        return

    with tempfile.TemporaryDirectory() as scratch:
        clip = settings.CLIP_MODEL
        if not Path(clip).is_dir():
            # Random weights in ViT-B/32's architecture: the real model's cost, offline.
            clip = str(Path(scratch) / "test-clip-base")
            call_command("make_test_clip", clip, size="base", verbosity=0)
        for batch_size in BATCH_SIZES:
            embedder = Embedder(clip, batch_size=batch_size)
            rate = throughput(embedder.embed_images, images, batch_size)
            print(f"embedder {embedder.version} on {embedder.device} batch {batch_size:2d}: {rate:6.1f} images/s")
        print(f"peak RSS after embedder: {peak_rss_mib():.0f} MiB")
        text_query_times(embedder, scratch, args.queries)


def open_vocabulary_rates(images: list, yolo_weights: Path) -> None:
    """photos/s one photo at a time (as a query photo is detected): YOLOv5n, then OWL-ViT and OWLv2 base."""
    yolo = Detector(yolo_weights, batch_size=1)
    yolo.detect(images)  # each new input shape costs a first call on CPU: every photo's shape seen before timing
    rate = throughput(yolo.detect, images, 1)
    print(f"open-vocabulary comparison, {len(images)} photos one at a time on {yolo.device}:")
    print(f"  YOLOv5n {yolo.version} (80 fixed classes): {rate:6.2f} photos/s")
    with tempfile.TemporaryDirectory() as scratch:
        for kind, stands_for in OPEN_VOCABULARY_MODELS.items():
            folder = Path(scratch) / f"test-{kind}-base"
            call_command("make_test_owlvit", str(folder), kind=kind, size="base", verbosity=0)
            detector = OpenVocabularyDetector(folder, classes=VOCABULARY, batch_size=1)
            side = detector.model.config.vision_config.image_size
            rate = throughput(detector.detect, images, 1)
            started = time.perf_counter()
            detector.embed_words(["red umbrella"])  # what a query word adds: one text embedding
            word_ms = (time.perf_counter() - started) * 1000
            print(
                f"  {kind} ({stands_for} architecture at {side} px, random weights: the real model's cost) "
                f"{len(VOCABULARY)} words: {rate:6.2f} photos/s; a query word adds {word_ms:.0f} ms"
            )
            del detector
    print(f"peak RSS after open-vocabulary detectors: {peak_rss_mib():.0f} MiB")


def text_query_times(embedder: Embedder, scratch: str, count: int) -> None:
    """ms per text query (p50, p95), one query per call as search makes them: the CLIP's tower, then the encoder."""
    encoder_dir = settings.TEXT_ENCODER
    if not (encoder_dir and Path(encoder_dir).is_dir()):
        encoder_dir = str(Path(scratch) / "test-text-encoder-base")
        call_command("make_test_text_encoder", encoder_dir, aligned_to=embedder.version, size="base", verbosity=0)
    encoder = TextEncoder(encoder_dir)
    for name, model in (
        (f"CLIP text tower {embedder.version}", embedder),
        (f"text encoder {encoder.version}", encoder),
    ):
        model.embed_texts([QUERIES[0]])  # warm-up
        times = []
        for i in range(count):
            started = time.perf_counter()
            model.embed_texts([QUERIES[i % len(QUERIES)]])
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p50, p95 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{name} on {embedder.device}: text query p50 {p50:5.1f} ms, p95 {p95:5.1f} ms ({count} queries)")
    print(f"peak RSS after text encoders: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
