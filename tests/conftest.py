"""Shared fixtures: the offline assets in ../shared/assets (never copied here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture(scope="session")
def assets_dir() -> Path:
    path = Path(settings.SHARED_ASSETS_DIR)
    if not (path / "coco128").is_dir():
        pytest.fail(f"Offline assets not found at {path}; set SHARED_ASSETS_DIR to the shared/assets folder.")
    return path


@pytest.fixture(scope="session")
def coco128_dir(assets_dir: Path) -> Path:
    return assets_dir / "coco128"


@pytest.fixture(scope="session")
def yolov5n_weights(assets_dir: Path) -> Path:
    return assets_dir / "weights" / "yolov5n.pt"


@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def isolated_media(settings, media_root: Path) -> None:
    """Uploaded and generated files go to a temporary folder, not var/media."""
    settings.MEDIA_ROOT = media_root
