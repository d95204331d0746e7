"""CLIP embeddings for crops and text queries, in one shared 512-d space.

The model comes from settings.CLIP_MODEL: a hub id or a local directory written by
``save_pretrained``; both go through the same ``from_pretrained`` calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from django.conf import settings
from PIL import Image

from indexing.vision.device import choose_device
from indexing.vision.loading import ModelsBySource
from indexing.vision.pretrained import load_pretrained, pretrained_version

if TYPE_CHECKING:
    from transformers import CLIPModel, CLIPProcessor

logger = logging.getLogger(__name__)


class Embedder:
    """One CLIP model; every argument defaults to its setting."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str | None = None,
        batch_size: int | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        started = time.perf_counter()
        self.model_id = str(model or settings.CLIP_MODEL)
        self.batch_size = max(1, batch_size or settings.CLIP_BATCH_SIZE)
        self.device = choose_device(device)
        self.model, self.processor = _load_clip(self.model_id, cache_dir or settings.MODEL_CACHE_DIR)
        self.half = self.device.type == "cuda"  # fp16 halves memory and time on GPUs; CPUs lack fast fp16
        self.model = (self.model.half() if self.half else self.model.float()).to(self.device).eval()
        self.max_text_tokens = _max_text_tokens(self.model, self.processor)
        self.version = pretrained_version(self.model_id, self.model)
        logger.info(
            "Loaded embedder %s from %s on %s in %.1f s",
            self.version,
            self.model_id,
            self.device,
            time.perf_counter() - started,
        )

    @property
    def dim(self) -> int:
        return int(self.model.config.projection_dim)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, dim) float32, unit length rows."""
        return self._batched(images, self._image_batch)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, unit length rows; text beyond the model's context is cut off."""
        return self._batched(texts, self._text_batch)

    def _batched(self, items: Sequence, embed_batch) -> np.ndarray:
        parts = [embed_batch(items[i : i + self.batch_size]) for i in range(0, len(items), self.batch_size)]
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)

    def _image_batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        # Say the layout: for tiny images (1 or 3 pixels on a side) the processor's guess
        # takes a side for the channel axis and fails.
        pixels = self.processor(
            images=[image.convert("RGB") for image in images], return_tensors="pt", input_data_format="channels_last"
        )
        pixel_values = pixels["pixel_values"].to(self.device, dtype=self.model.dtype)
        with torch.inference_mode():
            return _normalised(self.model.get_image_features(pixel_values=pixel_values))

    def _text_batch(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.processor.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_text_tokens, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            features = self.model.get_text_features(
                input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
            )
            return _normalised(features)


def _load_clip(model_id: str, cache_dir: str | Path) -> tuple[CLIPModel, CLIPProcessor]:
    # Imported here: transformers takes seconds to import, and every manage.py call
    # (which loads the URLconf and so this module) would pay for it.
    from transformers import CLIPModel, CLIPProcessor

    def load(**options) -> tuple[CLIPModel, CLIPProcessor]:
        model = CLIPModel.from_pretrained(model_id, cache_dir=str(cache_dir), **options)
        return model, CLIPProcessor.from_pretrained(model_id, cache_dir=str(cache_dir), **options)

    return load_pretrained(load, model_id, what="the CLIP model", setting="CLIP_MODEL")


def _max_text_tokens(model: CLIPModel, processor: CLIPProcessor) -> int:
    """The context length: the position table's size, or less if the tokenizer says so."""
    positions = int(model.config.text_config.max_position_embeddings)
    tokenizer_max = getattr(processor.tokenizer, "model_max_length", positions) or positions
    return min(positions, int(tokenizer_max))


def _normalised(features: torch.Tensor) -> np.ndarray:
    features = features.float()
    features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return features.cpu().numpy()


_embedders = ModelsBySource(Embedder)


def get_embedder(model: str | None = None) -> Embedder:
    """The process-wide embedder of ``model`` (settings.CLIP_MODEL by default), loaded on first use.

    A process holds one per model it was asked for: during a re-embed a worker needs
    both the model search still serves and the one it moves to (indexing.served_models).
    """
    return _embedders.get(str(model or settings.CLIP_MODEL))


def loaded_embedders() -> set[str]:
    return _embedders.sources()


def release_embedders(*, keep: set[str]) -> None:
    """Drop the loaded embedders of models not in ``keep`` (a re-embed switched away from them)."""
    _embedders.release(keep=keep)


def reset_embedder() -> None:
    _embedders.reset()
