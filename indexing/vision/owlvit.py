"""Open-vocabulary detection: OWL-ViT / OWLv2 (transformers) find any words, not a checkpoint's classes.

The vocabulary is DETECTOR_CLASSES ("backpack", "traffic cone", "coffee mug"): each word
becomes a text query, embedded once per detector. The model predicts one box per image
patch and scores every box against every query; a box keeps its best word. A query photo
may bring extra words (``detect(..., words=...)``): the same patch boxes, its region
proposals, are scored against them too, and a box found for one carries that word.

DETECTOR_WEIGHTS chooses this detector when it names such a model (``is_open_vocabulary``):
a hub id (google/owlv2-base-patch16-ensemble, google/owlvit-base-patch32) or a folder
written by ``save_pretrained``. The slicing settings (indexing.vision.slicing) are YOLOv5's
and do not apply here: the model sees each photo once, at its processor's size.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from django.conf import settings
from PIL import Image

from indexing.vision.classes import ALL_CLASSES, classes_tag
from indexing.vision.detection import Detection
from indexing.vision.device import choose_device
from indexing.vision.errors import ModelLoadError
from indexing.vision.pretrained import load_pretrained, pretrained_version

logger = logging.getLogger(__name__)

MODEL_TYPES = ("owlvit", "owlv2")


def is_open_vocabulary(spec: str) -> bool:
    """Whether a DETECTOR_WEIGHTS value names an OWL-ViT/OWLv2 model (else it is YOLOv5 weights).

    A local folder says so in its config.json; a hub id by its name (owner/owlvit-..., owner/owlv2-...).
    A .pt file, an official name and an MLflow URI (runs:/, models:/) are YOLOv5's.
    """
    spec = str(spec).strip()
    path = Path(spec).expanduser()
    if path.is_dir():
        try:
            return json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type") in MODEL_TYPES
        except (OSError, ValueError, AttributeError):
            return False
    if spec.endswith(".pt") or ":" in spec or spec.count("/") != 1:
        return False
    return spec.rsplit("/", 1)[1].lower().startswith(MODEL_TYPES)


class OpenVocabularyDetector:
    """One OWL-ViT or OWLv2 model and its vocabulary; every argument defaults to its setting."""

    open_vocabulary = True

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        classes: Sequence[str] | None = None,
        device: str | None = None,
        confidence: float | None = None,
        iou: float | None = None,
        max_detections: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        started = time.perf_counter()
        self.model_id = str(model or settings.DETECTOR_WEIGHTS)
        self.confidence = settings.OPEN_VOCABULARY_CONFIDENCE if confidence is None else confidence
        self.iou = settings.DETECTOR_IOU if iou is None else iou
        self.max_detections = max_detections or settings.DETECTOR_MAX_DETECTIONS
        self.batch_size = max(1, batch_size or settings.DETECTOR_BATCH_SIZE)
        self.device = choose_device(device)
        words = vocabulary(classes or settings.DETECTOR_CLASSES)
        if [word.lower() for word in words] == [ALL_CLASSES]:
            raise ModelLoadError(
                "DETECTOR_CLASSES=all keeps every class a YOLOv5 checkpoint names, but an open-vocabulary detector "
                "has no fixed classes: list its words, e.g. DETECTOR_CLASSES=backpack,traffic cone,coffee mug."
            )
        #: word index -> word, as the YOLOv5 detector's class id -> label
        self.classes: dict[int, str] = dict(enumerate(words))
        self.model, self.processor = _load_owl(self.model_id, settings.MODEL_CACHE_DIR)
        self.model = self.model.float().to(self.device).eval()
        # OWLv2 pads a photo to a square (bottom, right) before resizing: its boxes are fractions of that square.
        self.square_padded = self.model.config.model_type == "owlv2"
        self.max_text_tokens = int(self.model.config.text_config.max_position_embeddings)
        self._vocabulary_queries = self.embed_words(self.labels)  # once: every photo is scored against them
        self.version = pretrained_version(self.model_id, self.model) + classes_tag(self.labels)
        logger.info(
            "Loaded open-vocabulary detector %s (%s, %d words) from %s on %s in %.1f s; "
            "the slicing settings (DETECTOR_FLIP, DETECTOR_SCALES, DETECTOR_TILE_SIZE) do not apply to it",
            self.version,
            self.model.config.model_type,
            len(self.labels),
            self.model_id,
            self.device,
            time.perf_counter() - started,
        )

    @property
    def labels(self) -> tuple[str, ...]:
        """The vocabulary: the labels this detector gives its crops, in DETECTOR_CLASSES order."""
        return tuple(self.classes[index] for index in sorted(self.classes))

    def detect(self, images: Sequence[Image.Image], *, words: Sequence[str] = ()) -> list[list[Detection]]:
        """Detections for each image, in input order, best first; ``words`` are scored beside the vocabulary.

        Each image is resized on its own to the processor's size, so an image gets the same
        detections alone as inside any batch.
        """
        known = {label.lower() for label in self.labels}
        extra = [word for word in vocabulary(words) if word.lower() not in known] if words else []
        labels = self.labels + tuple(extra)
        queries = self._vocabulary_queries
        if extra:
            queries = torch.cat([queries, self.embed_words(extra)])
        if not labels:
            return [[] for _ in images]
        results: list[list[Detection]] = []
        for start in range(0, len(images), self.batch_size):
            results += self._detect_batch(images[start : start + self.batch_size], queries, labels)
        return results

    def embed_words(self, words: Sequence[str]) -> torch.Tensor:
        """(n, dim) text query embeddings, as the model's forward makes them."""
        if not words:
            return torch.zeros((0, int(self.model.config.projection_dim)), device=self.device)
        tokens = self.processor.tokenizer(
            list(words), padding="max_length", truncation=True, max_length=self.max_text_tokens, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            return self.model.base_model.get_text_features(
                input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
            )

    def _detect_batch(
        self, images: Sequence[Image.Image], queries: torch.Tensor, labels: tuple[str, ...]
    ) -> list[list[Detection]]:
        rgb = [image if image.mode == "RGB" else image.convert("RGB") for image in images]
        pixels = self.processor.image_processor(images=rgb, return_tensors="pt", input_data_format="channels_last")
        pixel_values = pixels["pixel_values"].to(self.device)
        with torch.inference_mode():
            feature_map = self.model.image_embedder(pixel_values=pixel_values)[0]
            batch, rows, columns, hidden = feature_map.shape
            patches = feature_map.reshape(batch, rows * columns, hidden)
            logits = self.model.class_predictor(patches, queries[None].expand(batch, -1, -1))[0]
            boxes = self.model.box_predictor(patches, feature_map)  # (batch, patches, 4): cx, cy, w, h in 0..1
            probabilities = torch.sigmoid(logits.float())  # (batch, patches, words)
        return [
            self._image_detections(image, image_probabilities, image_boxes.float(), labels)
            for image, image_probabilities, image_boxes in zip(rgb, probabilities, boxes, strict=True)
        ]

    def _image_detections(
        self, image: Image.Image, probabilities: torch.Tensor, boxes: torch.Tensor, labels: tuple[str, ...]
    ) -> list[Detection]:
        """A box keeps its best vocabulary word; each extra word is scored on every box on its own.

        An extra word is what the query asks for: a box is a candidate for it even where a
        vocabulary word scores higher. Then per-word NMS, best first, at most max_detections.
        """
        from torchvision.ops import batched_nms

        xyxy = self._source_boxes(boxes, image.size)
        vocabulary_size = len(self.labels)
        scores, words = [], []
        if vocabulary_size:
            best_scores, best_words = probabilities[:, :vocabulary_size].max(dim=-1)
            scores.append(best_scores)
            words.append(best_words)
        for word_id in range(vocabulary_size, len(labels)):
            scores.append(probabilities[:, word_id])
            words.append(torch.full((len(xyxy),), word_id, dtype=torch.long, device=xyxy.device))
        all_scores, all_words, all_boxes = torch.cat(scores), torch.cat(words), xyxy.repeat(len(scores), 1)
        keep = all_scores >= self.confidence
        all_scores, all_words, all_boxes = all_scores[keep], all_words[keep], all_boxes[keep]
        best = batched_nms(all_boxes, all_scores, all_words, self.iou)[: self.max_detections]  # best first
        return [
            Detection(label=labels[int(all_words[i])], confidence=float(all_scores[i]), box=_box(all_boxes[i]))
            for i in best.tolist()
        ]

    def _source_boxes(self, boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Fractions of the model's input (cx, cy, w, h) as x1, y1, x2, y2 in source pixels, clipped."""
        width, height = size
        scale_x, scale_y = (max(width, height),) * 2 if self.square_padded else (width, height)
        cx, cy, w, h = boxes.unbind(-1)
        xyxy = torch.stack(
            [(cx - w / 2) * scale_x, (cy - h / 2) * scale_y, (cx + w / 2) * scale_x, (cy + h / 2) * scale_y], -1
        )
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clamp(0, width)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clamp(0, height)
        return xyxy


def vocabulary(words: Sequence[str]) -> list[str]:
    """The words, stripped, spaces collapsed, without repeats in any case (the first spelling kept)."""
    by_case: dict[str, str] = {}
    for word in words:
        cleaned = " ".join(str(word).split())
        if cleaned:
            by_case.setdefault(cleaned.lower(), cleaned)
    return list(by_case.values())


def _box(row: torch.Tensor) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = row.tolist()
    return (x1, y1, x2, y2)


def _load_owl(model_id: str, cache_dir: str | Path):
    # Imported here, as in the embedder: transformers takes seconds to import.
    from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

    def load(**options):
        model = AutoModelForZeroShotObjectDetection.from_pretrained(model_id, cache_dir=str(cache_dir), **options)
        if model.config.model_type not in MODEL_TYPES:
            raise ValueError(f"its model_type is {model.config.model_type!r}, not one of {', '.join(MODEL_TYPES)}")
        return model, AutoProcessor.from_pretrained(model_id, cache_dir=str(cache_dir), **options)

    return load_pretrained(load, model_id, what="the open-vocabulary detector", setting="DETECTOR_WEIGHTS")
