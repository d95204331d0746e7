"""The describer interface and the one the settings name (DESCRIPTIONS_BACKEND)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from django.conf import settings
from PIL import Image

from indexing.vision.describe.errors import DescriberError
from indexing.vision.loading import ModelsBySource

BACKENDS = ("local", "openai")


class Describer(Protocol):
    version: str  # recorded with each description: a new model describes the crops again

    default_prompt: str  # the prompt of a label with no DescriptionPrompt row ({label} filled in)

    photo_prompt: str  # the prompt of a whole photo (DESCRIPTIONS_WHOLE_PHOTOS)

    def describe(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> list[str]:
        """One short text per image, each asked with its own prompt; DescriberError when the model fails."""
        ...


def _build(key: str) -> Describer:
    backend, model, url = key.split("|", 2)
    if backend == "local":
        from indexing.vision.describe.local import LocalCaptioner  # torch and transformers only when used

        return LocalCaptioner(model)
    from indexing.vision.describe.remote import OpenAICompatible

    return OpenAICompatible(
        url=url,
        model=model,
        api_key=settings.DESCRIPTIONS_API_KEY,
        timeout=settings.DESCRIPTIONS_TIMEOUT_SECONDS,
        max_tokens=settings.DESCRIPTIONS_MAX_TOKENS,
    )


# One loaded describer per (backend, model, endpoint): a local model loads once per process.
_describers: ModelsBySource[Describer] = ModelsBySource(_build)


def configured() -> Describer:
    """The describer of DESCRIPTIONS_BACKEND and DESCRIPTIONS_MODEL (loaded on first use)."""
    backend = settings.DESCRIPTIONS_BACKEND
    if backend not in BACKENDS:
        raise DescriberError(f"DESCRIPTIONS_BACKEND is {backend!r}; use one of {', '.join(BACKENDS)}.")
    if backend == "openai" and not settings.DESCRIPTIONS_API_URL:
        raise DescriberError("DESCRIPTIONS_BACKEND=openai needs DESCRIPTIONS_API_URL (e.g. http://localhost:11434/v1).")
    url = settings.DESCRIPTIONS_API_URL if backend == "openai" else ""
    return _describers.get(f"{backend}|{settings.DESCRIPTIONS_MODEL}|{url}")


def reset_describers() -> None:
    """Forget loaded describers (tests, or after the settings change)."""
    _describers.reset()
