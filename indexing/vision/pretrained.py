"""Models from ``from_pretrained``: a hub id or a local folder, loaded offline when it can be, and versioned.

Shared by the CLIP embedder and the open-vocabulary detector: a local folder loads as
is; a hub id is tried from the cache first (no network at all), and only then after
one connection to the hub proves it reachable. Every failure is a ModelLoadError that
names the setting to change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from indexing.vision.errors import ModelLoadError
from indexing.vision.weights.downloads import hub_endpoint, require_reachable

T = TypeVar("T")

# Files whose bytes identify a local model when there is no hub commit hash.
IDENTITY_FILES = ("config.json", "model.safetensors", "pytorch_model.bin")


def load_pretrained(load: Callable[..., T], model_id: str, *, what: str, setting: str) -> T:
    """``load(**options)`` for ``model_id``: a local folder, else the cache, else the hub once reachable.

    ``what`` names the model in messages ("the CLIP model"), ``setting`` the setting that chose it.
    """
    try:
        if Path(model_id).is_dir():
            return load()
        try:
            # Already in the cache: no network at all (the hub client would ask for updates).
            return load(local_files_only=True)
        except OSError:
            require_reachable(hub_endpoint(), f"{what} {model_id!r}")
        return load()
    except (OSError, ValueError) as exc:
        # OSError covers an unreachable hub, an unknown id and a folder without the files.
        raise ModelLoadError(
            f"Could not load {what} {model_id!r} ({exc.__class__.__name__}: {first_line(exc)}); "
            f"if the model hub is unreachable, set {setting} to a local directory written by save_pretrained."
        ) from exc


def pretrained_version(model_id: str, model) -> str:
    """model name + hub commit when from the hub, else + a hash of the local files."""
    commit = getattr(model.config, "_commit_hash", None)
    path = Path(model_id)
    name = path.name if path.is_dir() else model_id
    if commit:
        return f"{name}@{commit[:12]}"
    if path.is_dir():
        return f"{name}@{directory_hash(path)}"
    return name


def directory_hash(path: Path) -> str:
    digest = hashlib.sha256()
    for file_name in IDENTITY_FILES:
        file = path / file_name
        if file.is_file():
            digest.update(file_name.encode())
            with file.open("rb") as handle:
                for chunk in iter(lambda h=handle: h.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:12]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no details"
