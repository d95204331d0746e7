"""The two exceptions the vision pipeline raises, so callers can tell a bad
input (record it against that image, carry on) from a broken setup (stop)."""

from __future__ import annotations


class ImageError(ValueError):
    """An input could not be used as an image (empty, not an image, truncated, too large)."""


class ModelLoadError(RuntimeError):
    """A model could not be loaded: missing or tampered weights, unreachable hub, bad configuration."""
