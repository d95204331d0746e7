"""A multilingual text encoder whose vectors live in a CLIP's image space (settings.TEXT_ENCODER).

A sentence-transformers model distilled from one CLIP's text tower (for instance
``sentence-transformers/clip-ViT-B-32-multilingual-v1``, a DistilBERT student of
ViT-B/32's text encoder, 512-d after its Dense layer): Korean, Japanese or German
words land near the English ones, so text queries search crops embedded by that
CLIP's image tower with no re-embed. It is only meaningful next to the CLIP it was
distilled for: which one is ``aligned_to`` (indexing.text_queries refuses any other).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from django.conf import settings

from indexing.vision.device import choose_device
from indexing.vision.errors import ModelLoadError
from indexing.vision.loading import ModelsBySource
from indexing.vision.pretrained import first_line
from indexing.vision.weights.downloads import SourceUnreachable, download_problem, hub_endpoint

logger = logging.getLogger(__name__)

# Written beside a local encoder (make_test_text_encoder does): {"image_model": "<embedder version or model id>"}.
ALIGNMENT_FILE = "aligned_to.json"
# Hub encoders whose model cards name the CLIP they were distilled for.
KNOWN_ALIGNMENTS = {
    "sentence-transformers/clip-ViT-B-32-multilingual-v1": "openai/clip-vit-base-patch32",
}


class TextEncoder:
    """One sentence-transformers text encoder; ``model`` defaults to settings.TEXT_ENCODER."""

    def __init__(self, model: str | Path | None = None, *, device: str | None = None) -> None:
        started = time.perf_counter()
        self.model_id = str(model or settings.TEXT_ENCODER)
        self.device = choose_device(device)
        self.model = _load(self.model_id, settings.MODEL_CACHE_DIR, str(self.device))
        self.version = _version(self.model_id, self.model)
        self.aligned_to = alignment_of(self.model_id)
        logger.info(
            "Loaded text encoder %s (aligned to %s) on %s in %.1f s",
            self.version,
            self.aligned_to or "an unknown image model",
            self.device,
            time.perf_counter() - started,
        )

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, unit length rows; text beyond the model's context is cut off."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=settings.CLIP_BATCH_SIZE,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,  # one bar per query in the logs otherwise (it follows the log level)
        )
        return np.asarray(vectors, dtype=np.float32)


def alignment_of(model_id: str) -> str:
    """The image model the encoder's vectors are aligned to, read without loading it ("" when unknown).

    TEXT_ENCODER_ALIGNED_TO wins (an encoder the project does not know); then the
    encoder folder's own record; then what the hub encoder's model card says.
    """
    configured = str(getattr(settings, "TEXT_ENCODER_ALIGNED_TO", "") or "").strip()
    if configured:
        return configured
    record = Path(model_id).expanduser() / ALIGNMENT_FILE
    if record.is_file():
        try:
            return str(json.loads(record.read_text(encoding="utf-8")).get("image_model", "")).strip()
        except (OSError, ValueError, AttributeError):
            return ""
    return KNOWN_ALIGNMENTS.get(model_id, "")


def _load(model_id: str, cache_dir: str | Path, device: str):
    # Imported here, as transformers is in the embedder: seconds to import, not every manage.py call's to pay.
    from sentence_transformers import SentenceTransformer

    def build(**options):
        return SentenceTransformer(model_id, device=device, cache_folder=str(cache_dir), **options)

    try:
        if Path(model_id).expanduser().is_dir():
            return build()
        try:
            return build(local_files_only=True)  # already cached: no network at all
        except OSError:
            if download_problem(hub_endpoint(), f"the text encoder {model_id!r}"):
                raise SourceUnreachable(
                    f"Cannot download the text encoder {model_id!r}: the model hub is unreachable; set TEXT_ENCODER "
                    "to a local folder written by SentenceTransformer.save, or empty to use the CLIP's own text tower."
                ) from None
        return build()
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"Could not load the text encoder {model_id!r} ({exc.__class__.__name__}: {first_line(exc)}); "
            "if the model hub is unreachable, set TEXT_ENCODER to a local directory written by "
            "SentenceTransformer.save, or leave it empty to use the CLIP's own text tower."
        ) from exc


def _version(model_id: str, model) -> str:
    """model name + a hash of its local files (a downloaded model's are in its snapshot folder)."""
    path = Path(model_id).expanduser()
    folder = path if path.is_dir() else _snapshot_folder(model)
    name = path.name if path.is_dir() else model_id
    return f"{name}@{_folder_hash(folder)}" if folder else name


def _folder_hash(folder: Path) -> str:
    """Every file's name and bytes: the Dense layer (2_Dense/) is part of what the vectors are."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "README.md"):
        digest.update(file.relative_to(folder).as_posix().encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:12]


def _snapshot_folder(model) -> Path | None:
    try:
        folder = Path(model[0].auto_model.config.name_or_path)
    except (AttributeError, IndexError, TypeError):
        return None
    return folder if folder.is_dir() else None


_encoders = ModelsBySource(TextEncoder)


def get_text_encoder(model: str | None = None) -> TextEncoder:
    """The process-wide text encoder of ``model`` (settings.TEXT_ENCODER by default), loaded on first use."""
    return _encoders.get(str(model or settings.TEXT_ENCODER))


def reset_text_encoders() -> None:
    _encoders.reset()
