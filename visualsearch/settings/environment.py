"""What every settings module reads first: the project's folders and the environment (plus ``.env``)."""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

# The repository: visualsearch/settings/environment.py is three levels below it.
BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    # Variables already in the environment win over the file's.
    environ.Env.read_env(BASE_DIR / ".env")

# Local state (embedded database, media, model cache, MLflow store) lives here.
VAR_DIR = Path(env("VISUALSEARCH_VAR_DIR", default=str(BASE_DIR / "var")))
# Offline assets (COCO128, yolov5n.pt) shipped beside the repository.
SHARED_ASSETS_DIR = Path(env("SHARED_ASSETS_DIR", default=str(BASE_DIR.parent / "shared" / "assets")))


def fixed_debug(module: str, debug: bool) -> bool:
    """DEBUG for a settings module that fixes it; a DEBUG variable saying otherwise is refused, not ignored."""
    if env.bool("DEBUG", default=debug) != debug:
        named = os.environ.get("DJANGO_SETTINGS_MODULE", module)
        via = "" if named == module else f" (built on {module})"
        raise ImproperlyConfigured(
            f"DEBUG={str(not debug).lower()} contradicts DJANGO_SETTINGS_MODULE={named}{via}, which has DEBUG "
            f"{'on' if debug else 'off'}: unset DEBUG, or unset DJANGO_SETTINGS_MODULE to let DEBUG choose."
        )
    return debug
