"""Which torch device the models run on, shared by the detector and the embedder."""

from __future__ import annotations

import torch
from django.conf import settings

from indexing.vision.errors import ModelLoadError


def choose_device(requested: str | None = None) -> torch.device:
    """Resolve settings.MODEL_DEVICE ("auto", "cpu", "cuda", "cuda:1", ...) to a torch device.

    "auto" means cuda when torch sees a GPU, else cpu. Asking for cuda on a machine
    without one is a configuration error, reported at load rather than at first use.
    """
    name = (requested or settings.MODEL_DEVICE or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ModelLoadError(f"MODEL_DEVICE={name!r} is not a torch device name (use auto, cpu or cuda).") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"MODEL_DEVICE={name!r} but torch sees no CUDA GPU; set MODEL_DEVICE=auto or cpu.")
    return device
