"""The one error a describer raises."""

from __future__ import annotations


class DescriberError(RuntimeError):
    """The model could not describe: unreachable, timed out, refused, or not loadable. The message says which."""
