"""descriptions/s of a local BLIP captioner (bench/describe.py, bench/vision.py).

A random BLIP of ``manage.py make_test_blip`` (``tiny``: what the tests run, its speed is
the code around the model; ``base``: the default DESCRIPTIONS_MODEL's architecture, its
cost without its weights), or a hub id / directory when one is cached. Random weights stop
at random, so each caption is made as long as a real one (``tokens`` new tokens).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from indexing.management.commands.make_test_blip import write_test_blip
from indexing.vision.describe.local import LocalCaptioner


def captioner_rate(model: str | None, size: str, device: str | None, crops: int, batch: int, tokens: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        source = model or str(write_test_blip(Path(scratch) / "blip", size=size))
        captioner = LocalCaptioner(source, device=device)
        if not model:  # random weights stop at random: make each caption as long as a real one
            captioner.model.generation_config.min_new_tokens = tokens
        captioner.max_tokens = tokens
        rng = np.random.default_rng(0)
        images = [Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)) for _ in range(crops)]
        captioner.describe(images[:2], ["a photo of a car,"] * 2)  # warm up
        started = time.perf_counter()
        for start in range(0, crops, batch):
            step = images[start : start + batch]
            captioner.describe(step, ["a photo of a car,"] * len(step))
        elapsed = time.perf_counter() - started
    print(
        f"captioner {captioner.version} on {captioner.device} ({torch.get_num_threads()} threads): "
        f"{crops / elapsed:.2f} descriptions/s "
        f"({crops} crops, batch {batch}, {tokens} new tokens{'' if model else ' each'})"
    )
