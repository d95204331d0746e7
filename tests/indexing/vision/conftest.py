"""Real models, loaded once per test session: yolov5n.pt on COCO128 and a test CLIP."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from indexing.vision.detector import Detection, Detector
from indexing.vision.embedder import Embedder
from indexing.vision.images import load_image

PRODUCT_CLASSES = ["person", "car", "cell phone", "laptop", "book", "handbag", "sports ball"]


@pytest.fixture(scope="session")
def detector(yolov5n_weights: Path) -> Detector:
    # Explicit arguments, so a developer's .env cannot change what the tests measure.
    return Detector(
        yolov5n_weights,
        classes=PRODUCT_CLASSES,
        device="cpu",
        confidence=0.25,
        iou=0.45,
        image_size=640,
        max_detections=100,
        batch_size=8,
    )


@pytest.fixture(scope="session")
def coco_image_paths(coco128_dir: Path) -> list[Path]:
    return sorted((coco128_dir / "images" / "train2017").glob("*.jpg"))


@pytest.fixture(scope="session")
def coco_images(coco_image_paths: list[Path]) -> list[Image.Image]:
    return [load_image(path) for path in coco_image_paths]


@pytest.fixture(scope="session")
def coco_detections(detector: Detector, coco_images: list[Image.Image]) -> list[list[Detection]]:
    """The detector over all 128 images, once (about half a minute on 2 CPU cores)."""
    return detector.detect(coco_images)


@pytest.fixture(scope="session")
def embedder(test_clip_dir: Path) -> Embedder:
    return Embedder(test_clip_dir, device="cpu", batch_size=4)
