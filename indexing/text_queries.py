"""What embeds a text query: the served CLIP's own text tower, or TEXT_ENCODER when it is aligned to it.

A multilingual encoder (indexing.vision.text_encoder) is distilled for one CLIP: its
vectors mean something only next to crops that CLIP embedded. So before it embeds a
query, its ``aligned_to`` is compared with the served embedder (indexing.served_models,
which a re-embed may have switched), and a mismatch is refused with one sentence: at
query time (a 503 that says so), in ``manage.py check`` (against CLIP_MODEL) and on /healthz.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from indexing import served_models
from indexing.vision.errors import ModelLoadError
from indexing.vision.text_encoder import alignment_of, get_text_encoder


class TextEncoderMismatch(ModelLoadError):
    """TEXT_ENCODER is aligned to another image model than the one the collection is embedded with."""

    public = True  # names models, never paths: every reader may be told (visualsearch.middleware)


def model_name(source: str) -> str:
    """``openai/clip-vit-base-patch32@1a2b`` and ``/models/clip-vit-base-patch32``: ``clip-vit-base-patch32``."""
    return source.split("@", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()


def encoder_name(source: str) -> str:
    """A hub id as it is; a local folder by its name alone (a path of this machine is no reader's business)."""
    path = Path(source).expanduser()
    return path.name if path.is_dir() or source.startswith(("/", ".", "~")) else source


def is_aligned(aligned_to: str, embedder_version: str) -> bool:
    """A version (name@hash) must match exactly; a bare model id matches any commit or copy of that model."""
    if not aligned_to:
        return False
    if "@" in aligned_to:
        return aligned_to == embedder_version
    return model_name(aligned_to) == model_name(embedder_version)


def alignment_problem(encoder: str, aligned_to: str, embedder_version: str, *, exact: bool = True) -> str:
    """ "" when ``encoder`` may embed queries for crops of ``embedder_version``; else the one sentence why not.

    Not ``exact``: the model names alone (a check that has only CLIP_MODEL, not the version it loads as).
    """
    if not aligned_to:
        return (
            f"The text encoder {encoder} does not say which image model it is aligned to, so its query vectors "
            "cannot be trusted against the collection: set TEXT_ENCODER_ALIGNED_TO to the CLIP it was distilled for."
        )
    if is_aligned(aligned_to if exact else model_name(aligned_to), embedder_version):
        return ""
    return (
        f"The text encoder {encoder} is aligned to {aligned_to}, but the collection is embedded by "
        f"{embedder_version}, so text queries are refused: set TEXT_ENCODER to an encoder distilled for that "
        "CLIP, or empty to use its own text tower."
    )


def embed_query(query: str) -> tuple[np.ndarray, str]:
    """The query's vector, and the embedder version of the crops it may be compared with."""
    embedder = served_models.embedder()
    if not settings.TEXT_ENCODER:
        return embedder.embed_texts([query])[0], embedder.version
    encoder = get_text_encoder()
    problem = alignment_problem(encoder.version, encoder.aligned_to, embedder.version)
    if not problem and encoder.dim != embedder.dim:
        problem = (
            f"The text encoder {encoder.version} writes {encoder.dim}-d vectors, "
            f"but the collection's are {embedder.dim}-d."
        )
    if problem:
        raise TextEncoderMismatch(problem)
    return encoder.embed_texts([query])[0], embedder.version


def text_encoder_problem() -> str:
    """For /healthz, loading nothing: TEXT_ENCODER against the served embedder's stamp ("" when fine)."""
    if not settings.TEXT_ENCODER:
        return ""
    try:
        served = served_models.served_embedder_version()  # "" before the first crop: CLIP_MODEL will make them
    except DatabaseError:
        served = ""  # /healthz reports the database itself
    encoder, aligned_to = encoder_name(settings.TEXT_ENCODER), alignment_of(settings.TEXT_ENCODER)
    if served:
        return alignment_problem(encoder, aligned_to, served)
    return alignment_problem(encoder, aligned_to, model_name(str(settings.CLIP_MODEL)), exact=False)


@checks.register(checks.Tags.models)
def check_text_encoder(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``manage.py check``: TEXT_ENCODER against CLIP_MODEL, from settings and files alone (no database)."""
    if not settings.TEXT_ENCODER:
        return []
    problem = alignment_problem(
        encoder_name(settings.TEXT_ENCODER),
        alignment_of(settings.TEXT_ENCODER),
        model_name(str(settings.CLIP_MODEL)),
        exact=False,
    )
    return [checks.Error(problem, id="indexing.E001")] if problem else []
