"""Small builders for rows the tests need (real rows in the real database)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image

from indexing.models import Crop, Dataset, SourceImage


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def make_dataset(name: str = "test", version: str = "version_1") -> Dataset:
    return Dataset.objects.create(name=name, version=version, split_names=["train", "val", "test"])


def make_image(dataset: Dataset, seed: int = 0, split: str = "train") -> SourceImage:
    data = png_bytes(color=(seed % 256, (seed * 7) % 256, (seed * 13) % 256))
    digest = hashlib.sha256(data + str(seed).encode()).hexdigest()
    image = SourceImage(
        dataset=dataset, split=split, sha256=digest, original_name=f"img{seed}.png", width=64, height=48
    )
    image.file.save(f"img{seed}.png", ContentFile(data), save=True)
    return image


def unit_vectors(count: int, dim: int = 512, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_crop(image: SourceImage, embedding: np.ndarray, label: str = "person", **fields) -> Crop:
    values = dict(
        image=image,
        label=label,
        confidence=0.9,
        x1=1,
        y1=2,
        x2=30,
        y2=40,
        embedding=embedding,
        detector_version="test-detector",
        embedder_version=configured_embedder_version(),
    )
    values.update(fields)
    return Crop.objects.create(**values)


def configured_embedder_version() -> str:
    """The version the configured CLIP stamps, when it is a local test CLIP; "test-embedder" otherwise.

    Search compares a query only with crops of its own embedder's version, so crops made
    here for a test with the real models must look made by that CLIP.
    """
    if not Path(settings.CLIP_MODEL).is_dir():
        return "test-embedder"
    from indexing.vision.embedder import get_embedder

    return get_embedder().version
