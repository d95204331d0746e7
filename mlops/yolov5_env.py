"""Running the ``yolov5`` package's train/val offline, on current numpy and torch.

yolov5 7.0.14 predates numpy 2 and torch 2.6 and assumes internet access; each
workaround here is narrow and logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from indexing.vision.weights import checksum_beside, file_sha256

sha256_of = file_sha256  # one checksum routine for the detector and for training

logger = logging.getLogger(__name__)


class UntrustedWeightsError(Exception):
    """A checkpoint whose checksum could not be verified: unpickling it could run arbitrary code."""


def listed_checksum(path: Path) -> str | None:
    """The checksum a SHA256SUMS file beside ``path`` lists for it, if any."""
    return checksum_beside(path) or None


def verify_checkpoint(path: Path, expected: str | None = None) -> str:
    """Return the sha256 of ``path`` after checking it against ``expected`` or a SHA256SUMS beside it."""
    actual = sha256_of(path)
    expected = (expected or listed_checksum(path) or "").lower()
    if not expected:
        raise UntrustedWeightsError(
            f"No checksum to verify {path} against: add it to a SHA256SUMS file beside it, "
            "pass --weights-sha256, or use weights from an MLflow run (runs:/ or models:/)"
        )
    if actual != expected:
        raise UntrustedWeightsError(f"{path} has sha256 {actual}, expected {expected}")
    return actual


@contextlib.contextmanager
def full_checkpoint_loading(path: Path, sha256: str) -> Iterator[None]:
    """Let yolov5's internal ``torch.load`` unpickle checkpoints, for a verified file only.

    torch>=2.6 loads with weights_only=True by default, which cannot read YOLOv5
    checkpoints (they pickle the model class); yolov5's train/val do not pass
    weights_only, so the documented environment switch is the only lever.
    """
    logger.warning(
        "Setting TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 for YOLOv5 (checkpoint %s verified, sha256 %s)", path, sha256
    )
    previous = os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
        else:
            os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = previous


def prepare_yolov5() -> None:
    """Apply the offline/compat fixes; call before importing ``yolov5.train`` or ``yolov5.val``."""
    import numpy as np

    # numpy 2 removed np.trapz; yolov5's AP integration still calls it (np.trapezoid is the same function).
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid
    patch_pillow_getsize()
    # yolov5 must never pip-install at run time (offline hosts, pinned environments).
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    # Keep yolov5's settings (and the font below) under var/, not in the user's home.
    os.environ.setdefault("YOLOV5_CONFIG_DIR", str(Path(settings.VAR_DIR) / "yolov5"))
    Path(os.environ["YOLOV5_CONFIG_DIR"]).mkdir(parents=True, exist_ok=True)
    install_plot_font()


def patch_pillow_getsize() -> None:
    """Pillow 10 removed FreeTypeFont.getsize, which yolov5's batch plots call; rebuild it from getbbox."""
    from PIL import ImageFont

    if hasattr(ImageFont.FreeTypeFont, "getsize"):
        return

    def getsize(self: ImageFont.FreeTypeFont, text: str) -> tuple[int, int]:
        left, top, right, bottom = self.getbbox(text)
        return int(right - left), int(bottom)

    ImageFont.FreeTypeFont.getsize = getsize


def install_plot_font() -> None:
    """yolov5 downloads Arial.ttf for plot labels on every check_dataset; offline that fails.

    Provide matplotlib's DejaVuSans under that name when the font is not there yet.
    """
    import matplotlib
    from yolov5.utils.general import CONFIG_DIR  # the directory yolov5 actually settled on

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = Path(CONFIG_DIR) / name
        if not target.exists():
            shutil.copyfile(source, target)
            logger.info("Installed %s as yolov5's plot font %s (no download offline)", source.name, target)


@contextlib.contextmanager
def restore_torch_determinism() -> Iterator[None]:
    """yolov5's init_seeds turns on torch deterministic algorithms process-wide; undo it afterwards."""
    import torch

    previous = torch.are_deterministic_algorithms_enabled()
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
