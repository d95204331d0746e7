"""Detection as the product does it, on COCO128 with its labels: plain vs sliced vs multi-scale.

    python bench/detection.py [--val] [--sweep]

For each configuration: recall and precision of the objects the crop policy keeps
(bench/lib/detection_metrics.py), per product class and overall, for the first half of
the photos (sorted by name; where --sweep picks knobs), the second half and all 128;
mAP50 of the kept detections; detection time per photo (Detector.detect on one photo
at a time, the configurations interleaved photo by photo so their ratio holds on a
busy machine). --val also runs mlops.evaluation.evaluate_detector (yolov5 val, conf
0.001, the model's mAP50 over all 80 classes) for the raw weights.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visualsearch.settings")
os.environ.setdefault("DEBUG", "true")  # a bench on a developer machine, as lib/setup.py does

import django

django.setup()

import torch  # noqa: E402
from django.conf import settings  # noqa: E402

from bench.lib.detection_metrics import load_truth, map50, overall, score  # noqa: E402
from indexing.vision.crops import CropPolicy  # noqa: E402
from indexing.vision.detector import Detector  # noqa: E402
from indexing.vision.images import load_image  # noqa: E402
from indexing.vision.slicing import SlicingConfig  # noqa: E402

SMALL = ("book", "handbag", "cell phone", "sports ball")
PLAIN = SlicingConfig()


def configurations() -> dict[str, tuple[dict, SlicingConfig]]:
    """name -> (Detector keyword arguments, slicing). "default" is what the settings give."""
    chosen = SlicingConfig.from_settings()
    return {
        "raw 640": ({}, PLAIN),
        "raw 640 conf 0.15": ({"confidence": 0.15}, PLAIN),
        "raw 960": ({"image_size": 960}, PLAIN),
        "multi-scale 640+832": ({}, SlicingConfig(scales=(832,), view_confidence=0.1, confidence=0.2)),
        "tiles 384/0.25 @640": (
            {},
            SlicingConfig(tile_size=384, tile_overlap=0.25, tile_min_photo_side=0, tile_image_size=640),
        ),
        "tiles 2x2 @352": ({}, SlicingConfig(tile_size=384, tile_min_photo_side=0, tile_image_size=352)),
        "flip 640": ({}, SlicingConfig(flip=True, view_confidence=0.1, confidence=0.2)),
        # what --sweep picked on half A (docs/detection.md)
        "flip 512 uncertain": (
            {},
            SlicingConfig(
                flip=True,
                flip_image_size=512,
                view_confidence=0.1,
                merge_iou=0.5,
                confidence=0.25,
                single_confidence=0.25,
                when="uncertain",
            ),  # fmt: skip
        ),
        "default (settings)": ({}, chosen),
    }


def photos(assets: Path) -> list[tuple[str, object]]:
    paths = sorted((assets / "coco128" / "images" / "train2017").glob("*.jpg"))
    return [(path.stem, load_image(path)) for path in paths]


def run(detectors: dict[str, Detector], images) -> tuple[dict[str, dict], dict[str, float]]:
    """Every configuration's detections per photo, and its seconds per photo (interleaved)."""
    found: dict[str, dict] = {name: {} for name in detectors}
    seconds = dict.fromkeys(detectors, 0.0)
    for detector in detectors.values():
        detector.detect([images[0][1]])  # warm-up: first calls allocate and pick kernels
    for stem, image in images:
        for name, detector in detectors.items():
            started = time.perf_counter()
            found[name][stem] = detector.detect([image])[0]
            seconds[name] += time.perf_counter() - started
    return found, {name: s / len(images) for name, s in seconds.items()}


def report(found, seconds, truth, sizes, policy, labels, halves) -> list[str]:
    raw = seconds["raw 640"]
    head = "| configuration | recall A | recall B | recall | precision A | precision B | precision | mAP50 |"
    lines = [head + " ms/photo | x raw |", "|" + " --- |" * 10]
    per_class = ["| configuration | " + " | ".join(SMALL + ("person", "car")) + " |", "|" + " --- |" * 7]
    for name, by_photo in found.items():
        cells = []
        parts = [{s: by_photo[s] for s in half} for half in halves] + [by_photo]
        tallies = [score(part, truth, sizes, policy) for part in parts]
        totals = [overall(t) for t in tallies]
        cells += [f"{t.recall:.3f}" for t in totals] + [f"{t.precision:.3f}" for t in totals]
        cells.append(f"{map50(tallies[2], labels):.3f}")
        cells += [f"{seconds[name] * 1000:.0f}", f"{seconds[name] / raw:.2f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        whole = tallies[2]
        per_class.append(
            f"| {name} | "
            + " | ".join(f"{whole[c].found}/{whole[c].eligible} p{whole[c].precision:.2f}" for c in per_class_labels())
            + " |"
        )
    return [*lines, "", *per_class]


def per_class_labels() -> tuple[str, ...]:
    return (*SMALL, "person", "car")


def run_val(weights: Path, assets: Path) -> str:
    from mlops.evaluation import evaluate_detector

    result = evaluate_detector(
        str(weights), assets / "coco128" / "data.yaml", task="val", batch_size=16, workers=0, name="bench-detection"
    )
    m = result.metrics
    small = ", ".join(f"{c} {m.get('ap50_' + c.replace(' ', '_'), float('nan')):.3f}" for c in per_class_labels())
    return f"yolov5 val via mlops.evaluation (conf 0.001, 80 classes): mAP50 {m['mAP50']:.3f}; AP50 {small}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--val", action="store_true", help="also run mlops.evaluation on the raw weights")
    parser.add_argument(
        "--sweep", action="store_true", help="pick merge knobs on half A (bench/lib/detection_sweep.py)"
    )
    parser.add_argument("--cache", type=Path, help="--sweep: keep the views' boxes in this file, reuse them")
    parser.add_argument("--photos", type=int, default=0, help="only the first N photos (a smoke test)")
    parser.add_argument("--only", nargs="*", help="configuration names to run (default all)")
    args = parser.parse_args()
    assets = Path(settings.SHARED_ASSETS_DIR)
    weights = assets / "weights" / "yolov5n.pt"
    images = photos(assets)[: args.photos or None]
    sizes = {stem: image.size for stem, image in images}
    policy, labels = CropPolicy.from_settings(), list(settings.DETECTOR_CLASSES)
    truth = load_truth(assets / "coco128", labels, sizes, policy)
    stems = [stem for stem, _ in images]
    halves = (stems[: len(stems) // 2], stems[len(stems) // 2 :])
    if args.sweep:
        from bench.lib.detection_sweep import sweep

        sweep(Detector(weights, slicing=PLAIN), images, truth, sizes, policy, halves, args.cache)
        return
    chosen = {k: v for k, v in configurations().items() if not args.only or k in args.only or k == "raw 640"}
    detectors = {name: Detector(weights, batch_size=1, slicing=s, **kw) for name, (kw, s) in chosen.items()}
    found, seconds = run(detectors, images)
    print(f"{len(images)} COCO128 photos, torch threads {torch.get_num_threads()}, load {os.getloadavg()}")
    print(f"half A = first {len(halves[0])} photos by name, B = the other {len(halves[1])}")
    print("\n".join(report(found, seconds, truth, sizes, policy, labels, halves)))
    print("default version:", detectors["default (settings)"].version if "default (settings)" in detectors else "-")
    if args.val:
        print(run_val(weights, assets))
    print("yolov5s: no offline weights (../shared/assets/weights holds yolov5n.pt only)")


if __name__ == "__main__":
    main()
