"""CLIP embeddings for crops and text queries, in one shared 512-d space.

The model comes from settings.CLIP_MODEL: a hub id or a local directory written by
``save_pretrained``; both go through the same ``from_pretrained`` calls.
"""

from __future__ import annotations

import hashlib
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
from indexing.vision.errors import ModelLoadError
from indexing.vision.loading import ModelsBySource
from indexing.vision.weights.downloads import hub_endpoint, require_reachable

if TYPE_CHECKING:
    from transformers import CLIPModel, CLIPProcessor

logger = logging.getLogger(__name__)

# Files whose bytes identify a local model when there is no hub commit hash.
_IDENTITY_FILES = ("config.json", "model.safetensors", "pytorch_model.bin")


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
        self.version = _version(self.model_id, self.model)
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

    try:
        if Path(model_id).is_dir():
            return _from_pretrained(CLIPModel, CLIPProcessor, model_id, cache_dir)
        try:
            # Already in the cache: no network at all (the hub client would ask for updates).
            return _from_pretrained(CLIPModel, CLIPProcessor, model_id, cache_dir, local_files_only=True)
        except OSError:
            require_reachable(hub_endpoint(), f"the CLIP model {model_id!r}")
        return _from_pretrained(CLIPModel, CLIPProcessor, model_id, cache_dir)
    except (OSError, ValueError) as exc:
        # OSError covers an unreachable hub, an unknown id and a folder without the files.
        raise ModelLoadError(
            f"Could not load the CLIP model {model_id!r} ({exc.__class__.__name__}: {_first_line(exc)}); "
            "if the model hub is unreachable, set CLIP_MODEL to a local directory written by save_pretrained."
        ) from exc


def _from_pretrained(model_class, processor_class, model_id: str, cache_dir, **options) -> tuple:
    model = model_class.from_pretrained(model_id, cache_dir=str(cache_dir), **options)
    return model, processor_class.from_pretrained(model_id, cache_dir=str(cache_dir), **options)


def _max_text_tokens(model: CLIPModel, processor: CLIPProcessor) -> int:
    """The context length: the position table's size, or less if the tokenizer says so."""
    positions = int(model.config.text_config.max_position_embeddings)
    tokenizer_max = getattr(processor.tokenizer, "model_max_length", positions) or positions
    return min(positions, int(tokenizer_max))


def _version(model_id: str, model: CLIPModel) -> str:
    """model name + hub commit when from the hub, else + a hash of the local files."""
    commit = getattr(model.config, "_commit_hash", None)
    path = Path(model_id)
    name = path.name if path.is_dir() else model_id
    if commit:
        return f"{name}@{commit[:12]}"
    if path.is_dir():
        return f"{name}@{_directory_hash(path)}"
    return name


def _directory_hash(path: Path) -> str:
    digest = hashlib.sha256()
    for file_name in _IDENTITY_FILES:
        file = path / file_name
        if file.is_file():
            digest.update(file_name.encode())
            with file.open("rb") as handle:
                for chunk in iter(lambda h=handle: h.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:12]


def _normalised(features: torch.Tensor) -> np.ndarray:
    features = features.float()
    features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return features.cpu().numpy()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no details"


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
