"""Every workaround for the vendored ``yolov5`` (and the ``ultralytics`` it imports), in one place.

yolov5 7.0.14 predates numpy 2, Pillow 10 and torch 2.6 and assumes internet access;
each workaround here is narrow and logged. It lives under ``indexing.vision``, not
``mlops``: the detector needs the Pillow and checkpoint fixes, and indexing must
never import ``mlops`` (imports flow search -> indexing -> indexing.vision, with
mlops on top). Training and evaluation import the train/val fixes from here.

- serving: ``pillow_open``/``restore_pillow_open`` (undo ultralytics' Image.open
  patch), ``make_checkpoints_loadable`` and ``fix_checkpoint_model`` (what yolov5's
  attempt_load does; the detector unpickles with torch itself, since yolov5.load's
  ``torch.load`` defaults to weights_only=True on torch>=2.6 and fails);
- training and evaluation: ``prepare_yolov5`` (numpy, Pillow, offline settings,
  plot font), ``full_checkpoint_loading`` and ``restore_torch_determinism``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from PIL import Image

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


# --- serving ------------------------------------------------------------------------


def pillow_open() -> Callable[..., Image.Image]:
    """Pillow's own Image.open.

    ultralytics (imported by yolov5) replaces Image.open with a wrapper that, on any
    unidentified file, tries to pip-install pi-heif; a bad upload must not do that.
    """
    opener = Image.open
    if opener.__module__ != Image.__name__:
        patches = sys.modules.get("ultralytics.utils.patches")
        opener = getattr(patches, "_image_open", opener)
    return opener


def restore_pillow_open() -> None:
    """Undo ultralytics' patch of ``PIL.Image.open`` (call after importing yolov5)."""
    Image.open = pillow_open()


def make_checkpoints_loadable() -> None:
    """Call before unpickling a yolov5 checkpoint with ``torch.load``.

    Importing yolov5.models.yolo puts the yolov5 package root on sys.path, so the
    pickled ``models.yolo.DetectionModel`` class resolves; that import also brings
    ultralytics' Image.open patch, undone here.
    """
    import yolov5.models.yolo  # noqa: F401

    restore_pillow_open()


def fix_checkpoint_model(model: Any) -> torch.nn.Module:
    """What yolov5's attempt_load does to a model from an older checkpoint, for current torch."""
    import torch
    import yolov5.models.yolo as yolo
    from torch import nn

    if not hasattr(model, "stride"):
        model.stride = torch.tensor([32.0])
    if isinstance(getattr(model, "names", None), list | tuple):
        model.names = dict(enumerate(model.names))
    model = model.fuse().eval() if hasattr(model, "fuse") else model.eval()
    for module in model.modules():
        kind = type(module)
        if kind in (nn.Hardswish, nn.LeakyReLU, nn.ReLU, nn.ReLU6, nn.SiLU, yolo.Detect, yolo.Model):
            module.inplace = True  # torch 1.7.0 compatibility
            if kind is yolo.Detect and not isinstance(module.anchor_grid, list):
                delattr(module, "anchor_grid")
                module.anchor_grid = [torch.zeros(1)] * module.nl
        elif kind is nn.Upsample and not hasattr(module, "recompute_scale_factor"):
            module.recompute_scale_factor = None  # torch 1.11.0 compatibility
    return model


# --- training and evaluation ----------------------------------------------------------


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
