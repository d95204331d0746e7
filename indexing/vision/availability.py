"""Can this process load its models? Answered without loading them (for /healthz).

Loading takes seconds and memory; a health probe must answer in milliseconds. So
this only looks: a local file or folder is there, a downloaded copy is cached, or
the source it would come from answers (one short, remembered connection attempt).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from indexing.vision.owlvit import is_open_vocabulary
from indexing.vision.weights.downloads import YOLOV5_RELEASES_URL, download_problem, hub_endpoint
from indexing.vision.weights.mlflow import is_mlflow_uri, mlflow_server_problem, spec_from_settings
from indexing.vision.weights.resolve import looks_like_path, official_cache_dir


def detector_problem() -> str:
    """ "" when the configured detector weights are on disk or can be fetched, else why not.

    The same rules as ``weights.resolve_detector_weights``, minus anything slow: no
    MLflow call (the run's experiment is checked when the detector loads), no hashing.
    """
    spec = spec_from_settings()
    if not spec:
        return "DETECTOR_WEIGHTS is empty."
    if is_mlflow_uri(spec):
        return mlflow_server_problem(f"the detector weights {spec!r}")  # a local store is read when loaded
    if is_open_vocabulary(spec):
        return pretrained_problem(spec, setting="DETECTOR_WEIGHTS", what="the open-vocabulary detector")
    path = Path(spec).expanduser()
    if path.is_file():
        return ""
    if looks_like_path(spec):
        return f"DETECTOR_WEIGHTS={spec!r} does not exist."
    if (official_cache_dir() / spec).is_file():
        return ""
    return download_problem(YOLOV5_RELEASES_URL, f"the detector weights {spec!r}")


def clip_problem() -> str:
    """ "" when the configured CLIP is a local folder, already cached, or downloadable; else why not."""
    return pretrained_problem(str(settings.CLIP_MODEL).strip(), setting="CLIP_MODEL", what="the CLIP model")


def pretrained_problem(model: str, *, setting: str, what: str) -> str:
    """ "" when a ``from_pretrained`` model is a local folder, already cached, or downloadable; else why not."""
    path = Path(model).expanduser()
    if path.is_dir():
        return "" if (path / "config.json").is_file() else f"{setting}={model!r} has no config.json."
    if model.startswith(("/", ".", "~")):
        return f"{setting}={model!r} does not exist."
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(model, "config.json", cache_dir=str(settings.MODEL_CACHE_DIR))
    if isinstance(cached, str):
        return ""
    return download_problem(hub_endpoint(), f"{what} {model!r}")
