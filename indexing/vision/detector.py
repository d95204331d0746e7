"""YOLOv5 object detection: PIL images in, labelled boxes in source pixels out.

The checkpoint is loaded directly with torch (not ``yolov5.load``/AutoShape, whose
``torch.load`` defaults to weights_only=True on torch>=2.6 and fails), after its
sha256 is checked (``weights``); the yolov5 fixes it needs are in ``yolov5_env``.
Pre/post-processing reuses yolov5's own letterbox, NMS and box
scaling so results match the reference implementation.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from PIL import Image

from indexing.vision.classes import classes_tag, map_classes, wanted_classes
from indexing.vision.detection import Detection
from indexing.vision.device import choose_device
from indexing.vision.errors import ModelLoadError
from indexing.vision.loading import ModelsBySource
from indexing.vision.merging import fuse
from indexing.vision.owlvit import OpenVocabularyDetector, is_open_vocabulary
from indexing.vision.slicing import SlicingConfig, detect_views
from indexing.vision.weights.checksums import WeightsFile
from indexing.vision.weights.resolve import configured_weights_spec, resolve_detector_weights
from indexing.vision.yolov5_env import fix_checkpoint_model, make_checkpoints_loadable

logger = logging.getLogger(__name__)

LETTERBOX_COLOR = (114, 114, 114)  # the grey yolov5 was trained with


class Detector:
    """One YOLOv5 checkpoint, restricted to the product's classes.

    Every argument defaults to its setting, so the service uses ``Detector()`` while
    tests and benchmarks pass explicit values.
    """

    open_vocabulary = False  # its classes are the checkpoint's: query words are refused (indexing.vision.owlvit)

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        classes: Sequence[str] | None = None,
        device: str | None = None,
        confidence: float | None = None,
        iou: float | None = None,
        image_size: int | None = None,
        max_detections: int | None = None,
        batch_size: int | None = None,
        expected_sha256: str | None = None,
        slicing: SlicingConfig | None = None,
    ) -> None:
        started = time.perf_counter()
        self.confidence = settings.DETECTOR_CONFIDENCE if confidence is None else confidence
        self.iou = settings.DETECTOR_IOU if iou is None else iou
        self.max_detections = max_detections or settings.DETECTOR_MAX_DETECTIONS
        self.batch_size = max(1, batch_size or settings.DETECTOR_BATCH_SIZE)
        self.device = choose_device(device)
        # An explicit ``weights`` wins; otherwise DETECTOR_WEIGHTS or MLFLOW_RUN_ID (see configured_weights_spec).
        spec = str(weights) if weights else configured_weights_spec()
        self.weights = resolve_detector_weights(spec, expected_sha256)
        self.model = _load_checkpoint(self.weights, self.device)
        self.half = self.device.type == "cuda"  # fp16 halves memory and time on GPUs; CPUs lack fast fp16
        if self.half:
            self.model.half()
        self.stride = int(self.model.stride.max())
        # The network needs a multiple of its largest stride.
        self.image_size = math.ceil((image_size or settings.DETECTOR_IMAGE_SIZE) / self.stride) * self.stride
        #: model class id -> product label, only for the configured classes ("all": every class of the checkpoint)
        self.classes: dict[int, str] = map_classes(
            wanted_classes(classes or settings.DETECTOR_CLASSES, self.model.names), self.model.names
        )
        #: the views beside the full frame (flip, scales, tiles); plain detection when none
        self.slicing = SlicingConfig.from_settings() if slicing is None else slicing
        # Stored on every Crop: which weights found it (file name or MLflow run artifact, and checksum),
        # which classes it keeps and how (the slicing tag): another setting is another version, so
        # changing one is a redetect.
        self.version = self.weights.version + classes_tag(self.labels) + self.slicing.tag()
        logger.info(
            "Loaded detector %s from %s on %s in %.1f s",
            self.version,
            self.weights.source,
            self.device,
            time.perf_counter() - started,
        )

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels this detector gives its crops, in the model's class order."""
        return tuple(self.classes[class_id] for class_id in sorted(self.classes))

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        """Detections for each image, in input order, best first within an image.

        Images are batched only with others of the same letterboxed shape, so an
        image gets the same detections alone as inside any batch: a photo uploaded
        as a query is seen exactly as it was when it was indexed.
        """
        if self.slicing.enabled:
            return [self._detect_sliced(image) for image in images]
        results: list[list[Detection] | None] = [None] * len(images)
        by_shape: dict[tuple[int, int], list[int]] = {}
        for position, image in enumerate(images):
            by_shape.setdefault(self._input_shape(image.size[::-1]), []).append(position)
        for positions in by_shape.values():
            for start in range(0, len(positions), self.batch_size):
                chunk = positions[start : start + self.batch_size]
                for position, found in zip(chunk, self._detect_batch([images[p] for p in chunk]), strict=True):
                    results[position] = found
        return results  # type: ignore[return-value]

    def _detect_sliced(self, image: Image.Image) -> list[Detection]:
        """One photo through all its views (indexing.vision.slicing), merged; boxes clipped to the photo."""
        array = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
        rows = fuse(detect_views(self, array, self.slicing), self.slicing, self.max_detections)
        width, height = image.size
        rows[:, [0, 2]] = rows[:, [0, 2]].clip(0, width)
        rows[:, [1, 3]] = rows[:, [1, 3]].clip(0, height)
        return [self._detection(row) for row in rows.tolist()]

    def _input_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        height, width = self._scaled(shape)
        return (self._round_up(height), self._round_up(width))

    def _detect_batch(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        from yolov5.utils.general import non_max_suppression, scale_boxes

        # convert() copies even an RGB image: skip it for the (usual) RGB input, a full-size copy less.
        arrays = [np.asarray(image if image.mode == "RGB" else image.convert("RGB")) for image in images]
        batch = self._to_tensor(arrays)
        with torch.inference_mode():
            prediction = self.model(batch)[0]
            kept = non_max_suppression(
                prediction.float(),
                conf_thres=self.confidence,
                iou_thres=self.iou,
                classes=list(self.classes),
                max_det=self.max_detections,
            )
            results = []
            for array, rows in zip(arrays, kept, strict=True):
                # scale_boxes undoes the letterbox in place and clips to the source image.
                rows[:, :4] = scale_boxes(batch.shape[2:], rows[:, :4], array.shape[:2])
                results.append([self._detection(row) for row in rows.cpu().tolist()])
        return results

    def _to_tensor(self, arrays: list[np.ndarray]) -> torch.Tensor:
        from yolov5.utils.augmentations import letterbox

        shape = self._batch_shape(arrays)
        boxed = [letterbox(a, shape, color=LETTERBOX_COLOR, auto=False)[0] for a in arrays]
        stacked = np.ascontiguousarray(np.stack(boxed).transpose(0, 3, 1, 2))  # NHWC -> NCHW
        tensor = torch.from_numpy(stacked).to(self.device)
        tensor = tensor.half() if self.half else tensor.float()
        return tensor / 255.0

    def _batch_shape(self, arrays: list[np.ndarray]) -> tuple[int, int]:
        """One (h, w) for the whole batch, as yolov5's AutoShape computes it.

        Each image is scaled so its long side is image_size; the batch takes the largest
        height and width, rounded up to the stride. Landscape batches then run at e.g.
        640x480 instead of a padded 640x640 square, a quarter less work on CPU.
        """
        heights, widths = zip(*(self._scaled(a.shape[:2]) for a in arrays), strict=True)
        return (self._round_up(max(heights)), self._round_up(max(widths)))

    def _round_up(self, size: float) -> int:
        return math.ceil(size / self.stride) * self.stride

    def _scaled(self, shape: tuple[int, ...]) -> tuple[float, float]:
        gain = self.image_size / max(shape[0], shape[1])
        return shape[0] * gain, shape[1] * gain

    def _detection(self, row: list[float]) -> Detection:
        x1, y1, x2, y2, confidence, class_id = row
        return Detection(label=self.classes[int(class_id)], confidence=float(confidence), box=(x1, y1, x2, y2))


def _load_checkpoint(weights: WeightsFile, device: torch.device) -> torch.nn.Module:
    """Unpickle a yolov5 checkpoint and apply the fixes yolov5's attempt_load applies."""
    make_checkpoints_loadable()
    if not weights.verified:
        logger.warning(
            "Loading detector weights %s (sha256 %s) with no known checksum; unpickling runs code "
            "from the file (weights_only=False). Set DETECTOR_WEIGHTS_SHA256 or add a SHA256SUMS file.",
            weights.path,
            weights.sha256,
        )
    try:
        checkpoint = torch.load(weights.path, map_location="cpu", weights_only=False)
        model = (checkpoint.get("ema") or checkpoint["model"]).float()
    except Exception as exc:
        raise ModelLoadError(f"Detector weights {weights.path} are not a yolov5 checkpoint: {exc}") from exc
    return fix_checkpoint_model(model).to(device)


def load_detector(weights: str | None = None) -> Detector | OpenVocabularyDetector:
    """The detector kind ``weights`` (the configured weights by default) names, loaded.

    An OWL-ViT/OWLv2 model (indexing.vision.owlvit.is_open_vocabulary) is an open-vocabulary
    detector; anything else (a .pt file, an official name, an MLflow URI) is YOLOv5 weights.
    """
    spec = str(weights or configured_weights_spec())
    if is_open_vocabulary(spec):
        return OpenVocabularyDetector(spec)
    return Detector(spec)


_detectors = ModelsBySource(lambda weights: load_detector(weights or None))


def get_detector(weights: str | None = None) -> Detector | OpenVocabularyDetector:
    """The process-wide detector of ``weights`` (the configured weights by default), loaded on first use."""
    return _detectors.get(str(weights or ""))


def release_detectors(*, keep: set[str]) -> None:
    """Drop the loaded detectors of weights not in ``keep`` (a redetect moved away from them)."""
    _detectors.release(keep=keep)


def reset_detector() -> None:
    _detectors.reset()
