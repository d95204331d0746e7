"""Sliced and multi-view detection: the full frame plus extra views, merged into one list.

Small objects (a phone on a desk, a ball in a field) are a few pixels wide once a
photo is shrunk to the network's 640 pixels, and their confidence falls under the
threshold. Extra views give the detector a second look:
- a mirrored full frame (test-time flip): an object found in both views is real far
  more often than one found once, so the merged confidence (the mean over the views
  that cover a box, a view that missed it counting 0) can keep boxes that one view
  alone scores too low, without the false positives a lower threshold lets in;
- extra full frames at other input sizes (multi-scale);
- overlapping tiles cut from the photo, each run at its own input size: at full
  resolution a large photo's small objects keep their pixels. Tiles keep only boxes
  small for the tile and not cut by an inner tile edge: the full frame sees the large ones.
Every view of one photo with the same input shape goes through the network as one batch.
Boxes come back in full-photo pixels; the crop policy is applied to the merged boxes
by the caller (indexing.vision.crops), so crops from tiles are cut from the full photo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from django.conf import settings


class Detector(Protocol):
    """What the views need of indexing.vision.detector.Detector (which imports this module, so not it)."""

    model: Any
    stride: int
    device: Any
    half: bool
    iou: float
    classes: Any
    max_detections: int
    image_size: int


Region = tuple[int, int, int, int]  # left, top, right, bottom in photo pixels, right/bottom exclusive
EDGE_PIXELS = 2.0  # a tile box this close to an inner tile edge is a cut object
WHEN = ("always", "uncertain")


@dataclass(frozen=True)
class View:
    region: Region
    image_size: int  # long side of the network input
    flip: bool = False
    tile: bool = False


@dataclass(frozen=True)
class SlicingConfig:
    """What the detector looks at beside the full frame, and how the views are merged.

    The default (nothing extra) is plain detection, bit for bit.
    """

    flip: bool = False
    flip_image_size: int = 0  # network input of the mirrored frame; 0 = the detector's image size
    scales: tuple[int, ...] = ()  # extra full-frame input sizes
    tile_size: int = 0  # tile side in photo pixels; 0 = no tiles
    tile_overlap: float = 0.25  # fraction of a tile shared with its neighbour
    tile_min_photo_side: int = 0  # photos whose long side is smaller are not tiled
    tile_image_size: int = 640  # network input (long side) of a tile
    tile_max_box: float = 0.5  # a tile drops boxes longer than this fraction of its long side
    view_confidence: float = 0.1  # each view's boxes down to this confidence go into the merge
    merge_iou: float = 0.55  # same-class boxes of different views at least this IoU are one object
    confidence: float = 0.25  # the merged confidence a box needs
    single_confidence: float = 1.0  # ... or the confidence one view alone needs (above 1: never enough)
    # "always": every photo gets every view; "uncertain": the extra views only for photos whose
    # full frame has a box between view_confidence and confidence (the others cannot gain from them)
    when: str = "always"

    @classmethod
    def from_settings(cls) -> SlicingConfig:
        return cls(
            flip=settings.DETECTOR_FLIP,
            flip_image_size=settings.DETECTOR_FLIP_IMAGE_SIZE,
            scales=tuple(settings.DETECTOR_SCALES),
            tile_size=settings.DETECTOR_TILE_SIZE,
            tile_overlap=settings.DETECTOR_TILE_OVERLAP,
            tile_min_photo_side=settings.DETECTOR_TILE_MIN_PHOTO_SIDE,
            tile_image_size=settings.DETECTOR_TILE_IMAGE_SIZE,
            tile_max_box=settings.DETECTOR_TILE_MAX_BOX,
            view_confidence=settings.DETECTOR_VIEW_CONFIDENCE,
            merge_iou=settings.DETECTOR_MERGE_IOU,
            confidence=settings.DETECTOR_MERGED_CONFIDENCE,
            single_confidence=settings.DETECTOR_SINGLE_VIEW_CONFIDENCE,
            when=settings.DETECTOR_SLICE_WHEN,
        )

    def __post_init__(self) -> None:
        if self.when not in WHEN:
            raise ValueError(f"DETECTOR_SLICE_WHEN must be one of {', '.join(WHEN)}, not {self.when!r}")

    @property
    def enabled(self) -> bool:
        return self.flip or bool(self.scales) or self.tile_size > 0

    def tag(self) -> str:
        """What the detector version adds for these views: "" when plain, so plain crops keep their version."""
        if not self.enabled:
            return ""
        parts = [f"flip{self.flip_image_size or ''}"] if self.flip else []
        parts += [f"s{size}" for size in self.scales]
        if self.tile_size:
            parts.append(
                f"t{self.tile_size}o{self.tile_overlap:g}m{self.tile_min_photo_side}"
                f"i{self.tile_image_size}b{self.tile_max_box:g}"
            )
        parts.append(
            f"v{self.view_confidence:g}u{self.merge_iou:g}c{self.confidence:g}s{self.single_confidence:g}{self.when[0]}"
        )
        return "+" + "-".join(parts)


def tile_starts(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``length``, the last one flush with the end."""
    if tile >= length:
        return [0]
    step = max(1, int(tile * (1 - overlap)))
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def plan_views(size: tuple[int, int], config: SlicingConfig, image_size: int) -> list[View]:
    """The views of a photo of ``size`` (width, height): the full frame first."""
    width, height = size
    full = (0, 0, width, height)
    views = [View(full, image_size)]
    if config.flip:
        views.append(View(full, config.flip_image_size or image_size, flip=True))
    views += [View(full, scale) for scale in config.scales]
    if config.tile_size and max(size) >= config.tile_min_photo_side and config.tile_size < max(size):
        tile = config.tile_size
        for top in tile_starts(height, tile, config.tile_overlap):
            for left in tile_starts(width, tile, config.tile_overlap):
                region = (left, top, min(width, left + tile), min(height, top + tile))
                views.append(View(region, config.tile_image_size, tile=True))
    return views


def input_shape(region: Region, image_size: int, stride: int) -> tuple[int, int]:
    """(h, w) of the network input for a region: long side ``image_size``, each rounded up to the stride."""
    height, width = region[3] - region[1], region[2] - region[0]
    gain = image_size / max(height, width)
    return (math.ceil(height * gain / stride) * stride, math.ceil(width * gain / stride) * stride)


def detect_views(detector: Detector, array: np.ndarray, config: SlicingConfig) -> list[tuple[View, np.ndarray]]:
    """Each view's boxes (rows x1, y1, x2, y2, confidence, class id) in full-photo pixels."""
    views = plan_views((array.shape[1], array.shape[0]), config, detector.image_size)
    if config.when == "always":
        return _run_views(detector, array, views, config)
    first = _run_views(detector, array, views[:1], config)
    if not is_uncertain(first[0][1], config):
        return first  # merged alone, the full frame's boxes at the merged confidence: plain detection
    return first + _run_views(detector, array, views[1:], config)


def is_uncertain(rows: np.ndarray, config: SlicingConfig) -> bool:
    """Whether the full frame has a box another view could confirm (or it could lose)."""
    sure = min(config.confidence, config.single_confidence)
    return bool(((rows[:, 4] >= config.view_confidence) & (rows[:, 4] < sure)).any())


def _run_views(detector: Detector, array: np.ndarray, views: list[View], config: SlicingConfig):
    """The views through the network, those of one input shape as one batch; boxes in photo pixels."""
    from yolov5.utils.augmentations import letterbox
    from yolov5.utils.general import non_max_suppression, scale_boxes

    by_shape: dict[tuple[int, int], list[View]] = {}
    for view in views:
        by_shape.setdefault(input_shape(view.region, view.image_size, detector.stride), []).append(view)
    found = []
    for shape, group in by_shape.items():
        pixels = [_view_pixels(array, view) for view in group]
        boxed = [letterbox(p, shape, color=(114, 114, 114), auto=False)[0] for p in pixels]
        tensor = torch.from_numpy(np.ascontiguousarray(np.stack(boxed).transpose(0, 3, 1, 2))).to(detector.device)
        tensor = (tensor.half() if detector.half else tensor.float()) / 255.0
        with torch.inference_mode():
            kept = non_max_suppression(
                detector.model(tensor)[0].float(),
                conf_thres=config.view_confidence,
                iou_thres=detector.iou,
                classes=list(detector.classes),
                max_det=detector.max_detections,
            )
            for view, region_pixels, rows in zip(group, pixels, kept, strict=True):
                rows[:, :4] = scale_boxes(shape, rows[:, :4], region_pixels.shape[:2])  # undoes the letterbox
                found.append((view, _to_photo(view, rows.cpu().numpy(), config, array.shape[1::-1])))
    return found


def _view_pixels(array: np.ndarray, view: View) -> np.ndarray:
    left, top, right, bottom = view.region
    pixels = array[top:bottom, left:right]
    return np.ascontiguousarray(pixels[:, ::-1]) if view.flip else pixels


def _to_photo(view: View, rows: np.ndarray, config: SlicingConfig, photo_size: tuple[int, int]) -> np.ndarray:
    """Rows in region pixels -> full-photo pixels; a tile's large or cut boxes dropped."""
    left, top, right, bottom = view.region
    if view.flip:
        rows[:, [0, 2]] = (right - left) - rows[:, [2, 0]]
    rows[:, [0, 2]] += left
    rows[:, [1, 3]] += top
    if view.tile and len(rows):
        long_side = np.maximum(rows[:, 2] - rows[:, 0], rows[:, 3] - rows[:, 1])
        keep = long_side <= config.tile_max_box * max(right - left, bottom - top)
        keep &= ~_cut_by_inner_edge(rows, view.region, photo_size)
        rows = rows[keep]
    return rows


def _cut_by_inner_edge(rows: np.ndarray, region: Region, photo_size: tuple[int, int]) -> np.ndarray:
    """Boxes touching an edge of the tile that is not an edge of the photo (the tile cut them)."""
    left, top, right, bottom = region
    cut = np.zeros(len(rows), dtype=bool)
    if left > 0:
        cut |= rows[:, 0] <= left + EDGE_PIXELS
    if top > 0:
        cut |= rows[:, 1] <= top + EDGE_PIXELS
    if right < photo_size[0]:
        cut |= rows[:, 2] >= right - EDGE_PIXELS
    if bottom < photo_size[1]:
        cut |= rows[:, 3] >= bottom - EDGE_PIXELS
    return cut


def covers(view: View, box: Sequence[float], config: SlicingConfig) -> bool:
    """Whether ``view`` could have found ``box``: full frames always; a tile when it holds the box's
    centre and the box is small enough for the tile to keep."""
    if not view.tile:
        return True
    left, top, right, bottom = view.region
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    long_side = max(box[2] - box[0], box[3] - box[1])
    small = long_side <= config.tile_max_box * max(right - left, bottom - top)
    return left <= cx < right and top <= cy < bottom and small
