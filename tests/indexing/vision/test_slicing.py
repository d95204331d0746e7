"""Sliced detection: a small object in a large photo, tile boxes in photo pixels, merging, versions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexing.vision.crops import CropPolicy, crop_box, plan_crops
from indexing.vision.detector import Detector
from indexing.vision.merging import fuse, iou
from indexing.vision.slicing import SlicingConfig, View, _to_photo, plan_views, tile_starts
from tests.indexing.vision.conftest import PRODUCT_CLASSES

TILES = SlicingConfig(tile_size=640, tile_overlap=0.25, tile_min_photo_side=1280, tile_image_size=640)
PHOTO = (1600, 1200)
# Where the small person goes: 73x80 pixels, about 29x32 once the photo is shrunk to 640.
AT = (1000, 700)
HEIGHT = 80


def make_detector(weights: Path, slicing: SlicingConfig) -> Detector:
    # Explicit arguments, so a developer's .env cannot change what the test measures.
    return Detector(weights, classes=PRODUCT_CLASSES, device="cpu", confidence=0.25, iou=0.45, image_size=640,
                    max_detections=100, batch_size=8, slicing=slicing)  # fmt: skip


def cut_labelled(coco128_dir: Path, stem: str, class_id: int) -> Image.Image:
    """The first object of ``class_id`` in a COCO128 photo, cut out along its label box."""
    photo = Image.open(coco128_dir / "images" / "train2017" / f"{stem}.jpg").convert("RGB")
    width, height = photo.size
    for line in (coco128_dir / "labels" / "train2017" / f"{stem}.txt").read_text().splitlines():
        c, x, y, w, h = (float(v) for v in line.split())
        if int(c) == class_id:
            return photo.crop((round((x - w / 2) * width), round((y - h / 2) * height),
                               round((x + w / 2) * width), round((y + h / 2) * height)))  # fmt: skip
    raise AssertionError(f"no class {class_id} in {stem}")


@pytest.fixture(scope="module")
def small_person_photo(coco128_dir: Path) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A large photo (a COCO128 photo of bowls, no product class, enlarged) with a small person pasted in."""
    person = cut_labelled(coco128_dir, "000000000110", class_id=0)
    person = person.resize((round(person.width * HEIGHT / person.height), HEIGHT))
    background = Image.open(coco128_dir / "images" / "train2017" / "000000000009.jpg").convert("RGB")
    photo = background.resize(PHOTO)
    photo.paste(person, AT)
    return photo, (AT[0], AT[1], AT[0] + person.width, AT[1] + person.height)


def best_person_iou(detections, target) -> float:
    return max([iou(d.box, target) for d in detections if d.label == "person"] + [0.0])


def test_a_small_person_in_a_large_photo_is_found_with_slicing_and_missed_without(
    yolov5n_weights, small_person_photo
) -> None:
    photo, target = small_person_photo
    policy = CropPolicy(padding=0.1, min_side=32, max_aspect=4.0, min_area_fraction=0.001)
    assert crop_box(target, photo.size, policy) is not None  # an object the product would keep

    plain = make_detector(yolov5n_weights, SlicingConfig()).detect([photo])[0]
    assert best_person_iou(plain, target) < 0.1

    sliced = make_detector(yolov5n_weights, TILES).detect([photo])[0]
    assert best_person_iou(sliced, target) >= 0.6  # found in a tile, and its box back in photo pixels
    # The policy applies to the merged boxes, and the crop is cut from the full photo.
    crops = [c for c in plan_crops(photo, sliced, policy) if iou(c.box, target) >= 0.6]
    assert len(crops) == 1
    expected = photo.crop(crop_box(crops[0].box, photo.size, policy))
    assert crops[0].pixels.size == expected.size and np.array_equal(np.asarray(crops[0].pixels), np.asarray(expected))


def test_tiles_cover_the_photo_and_overlap() -> None:
    assert tile_starts(1600, 640, 0.25) == [0, 480, 960]  # the last flush with the right edge
    assert tile_starts(500, 640, 0.25) == [0]
    views = plan_views(PHOTO, TILES, 640)
    assert views[0] == View((0, 0, *PHOTO), 640)
    tiles = [v.region for v in views if v.tile]
    assert len(tiles) == 9 and (960, 560, 1600, 1200) in tiles
    # Small photos are not tiled: tile_min_photo_side.
    assert [v for v in plan_views((640, 480), TILES, 640) if v.tile] == []


def test_tile_and_mirror_boxes_are_mapped_back_to_photo_pixels() -> None:
    tile = View((300, 200, 940, 840), 640, tile=True)
    rows = np.array([[10.0, 20, 50, 80, 0.9, 0], [0.5, 100, 40, 160, 0.8, 0], [10, 10, 500, 500, 0.7, 2]])
    mapped = _to_photo(tile, rows.copy(), TILES, PHOTO)
    # The first box moved by the tile's offset; the one cut by the tile's left edge and the one too
    # large for a tile are dropped (the neighbouring tile and the full frame see them whole).
    assert mapped.tolist() == [[310.0, 220.0, 350.0, 280.0, 0.9, 0.0]]
    mirror = View((0, 0, *PHOTO), 640, flip=True)
    assert _to_photo(mirror, rows[:1].copy(), TILES, PHOTO)[0, :4].tolist() == [1550.0, 20.0, 1590.0, 80.0]


def test_merge_averages_over_the_views_that_could_see_a_box() -> None:
    config = SlicingConfig(flip=True, view_confidence=0.1, merge_iou=0.55, confidence=0.25)
    full, mirror = View((0, 0, 640, 480), 640), View((0, 0, 640, 480), 640, flip=True)
    both = (np.array([[100.0, 100, 200, 200, 0.2, 0]]), np.array([[102.0, 100, 202, 200, 0.4, 0]]))
    merged = fuse([(full, both[0]), (mirror, both[1])], config, 100)
    assert len(merged) == 1 and merged[0, 4] == pytest.approx(0.3)  # the full frame alone (0.2) drops it
    assert merged[0, 0] == pytest.approx((100 * 0.2 + 102 * 0.4) / 0.6)  # the boxes weighted by confidence
    # Seen by one view only: the other covered it and missed, so its confidence is halved.
    once = fuse([(full, np.array([[300.0, 100, 400, 200, 0.45, 0]])), (mirror, np.zeros((0, 6)))], config, 100)
    assert len(once) == 0
    # ... unless one view alone is sure enough (single_confidence): what plain detection keeps stays.
    sure = replace(config, single_confidence=0.4)
    kept = fuse([(full, np.array([[300.0, 100, 400, 200, 0.45, 0]])), (mirror, np.zeros((0, 6)))], sure, 100)
    assert kept[:, 4].tolist() == [0.45]
    # Another class at the same place is another object.
    other = fuse([(full, both[0]), (mirror, np.array([[102.0, 100, 202, 200, 0.6, 2]]))], config, 100)
    assert sorted(other[:, 5].tolist()) == [2.0]


def test_slicing_settings_are_part_of_the_detector_version(yolov5n_weights, settings) -> None:
    settings.DETECTOR_FLIP = False
    settings.DETECTOR_SCALES = []
    settings.DETECTOR_TILE_SIZE = 0
    plain = Detector(yolov5n_weights, device="cpu")
    assert plain.version == plain.weights.version  # plain detection keeps the versions crops already have
    settings.DETECTOR_TILE_SIZE = 640
    tiled = Detector(yolov5n_weights, device="cpu")
    settings.DETECTOR_TILE_OVERLAP = 0.5
    overlapped = Detector(yolov5n_weights, device="cpu")
    settings.DETECTOR_TILE_SIZE = 0
    settings.DETECTOR_FLIP = True
    flipped = Detector(yolov5n_weights, device="cpu")
    versions = {plain.version, tiled.version, overlapped.version, flipped.version}
    assert len(versions) == 4 and all(v.startswith(plain.version) for v in versions)
