"""The shape the make_test_* commands share: write a random-weight model to DIR, and say how to use it.

Each of make_test_clip, make_test_blip, make_test_text_encoder and make_test_owlvit takes
DIR, ``--seed`` (same seed, same weights) and ``--size`` (tiny for tests, base for the real
architecture's cost in benchmarks), writes the model with ``write`` and prints the setting
that selects it. A command adds its own options in ``add_model_arguments``.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand


class TinyModelCommand(BaseCommand):
    what = "model"  # named in the closing line: "Wrote a test CLIP to DIR"
    setting = ""  # the setting that selects the model written
    sizes: tuple[str, ...] = ("tiny", "base")
    size_help = ""

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path)
        self.add_model_arguments(parser)
        parser.add_argument("--seed", type=int, default=0, help="Same seed, same weights.")
        parser.add_argument("--size", choices=list(self.sizes), default="tiny", help=self.size_help)

    def add_model_arguments(self, parser) -> None:
        """The command's own options, beside DIR, --seed and --size."""

    def handle(self, *args, directory: Path, seed: int, size: str = "tiny", **options) -> None:
        self.write(directory, seed=seed, size=size, **options)
        what = self.what.format(**options)
        self.stdout.write(f"Wrote a test {what} to {directory}; use it with {self.setting}={directory}")

    def write(self, directory: Path, *, seed: int, size: str, **options) -> None:
        raise NotImplementedError
