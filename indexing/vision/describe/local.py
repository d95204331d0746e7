"""A ``transformers`` captioner in this process: BLIP class (``BlipForConditionalGeneration``).

DESCRIPTIONS_MODEL is a hub id or a directory written by ``save_pretrained``. The
default, ``Salesforce/blip-image-captioning-base`` (224M parameters, about 1 GB in fp32),
is the smallest captioner transformers loads without remote code: BLIP-large is twice
its size and time, Florence-2 needs ``trust_remote_code``, and SmolVLM-class chat models
generate many more tokens per crop. The prompt is BLIP's text prefix ("a photo of a car,").
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from django.conf import settings
from PIL import Image

from indexing.vision.describe.errors import DescriberError
from indexing.vision.device import choose_device

logger = logging.getLogger(__name__)


class LocalCaptioner:
    # BLIP continues a caption from its prompt: the prompt is the caption's first words.
    default_prompt = "a photo of a {label},"
    photo_prompt = "a photograph of"  # a whole photo (DESCRIPTIONS_WHOLE_PHOTOS): the scene's caption

    def __init__(self, model: str, *, device: str | None = None) -> None:
        from transformers import BlipForConditionalGeneration, BlipProcessor

        started = time.perf_counter()
        self.model_id = model
        self.device = choose_device(device)
        try:
            self.processor = BlipProcessor.from_pretrained(model, cache_dir=settings.MODEL_CACHE_DIR)
            loaded = BlipForConditionalGeneration.from_pretrained(model, cache_dir=settings.MODEL_CACHE_DIR)
        except (OSError, ValueError) as exc:
            raise DescriberError(f"The captioning model {model!r} could not be loaded: {exc}") from exc
        self.model = loaded.to(self.device).eval()
        self.max_tokens = settings.DESCRIPTIONS_MAX_TOKENS
        self.version = f"local:{_identity(model, self.model)}"
        logger.info("Loaded captioner %s on %s in %.1f s", self.version, self.device, time.perf_counter() - started)

    def describe(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> list[str]:
        if not images:
            return []
        inputs = self.processor(images=list(images), text=list(prompts), return_tensors="pt", padding=True)
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_tokens)
        return [text.strip() for text in self.processor.batch_decode(out, skip_special_tokens=True)]


def _identity(model_id: str, model) -> str:
    """The hub commit when there is one, else a digest of the local config and weights."""
    commit = getattr(model.config, "_commit_hash", None)
    path = Path(model_id)
    if path.is_dir():
        digest = hashlib.sha256()
        for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
            if (path / name).is_file():
                digest.update((path / name).read_bytes())
        return f"{path.name}@{digest.hexdigest()[:12]}"
    return f"{model_id}@{(commit or 'unknown')[:12]}"
