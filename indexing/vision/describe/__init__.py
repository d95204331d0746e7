"""Words about a crop or photo from a vision-language model, behind one small interface.

``Describer`` (base.py) is the interface: ``version`` (which model, recorded with every
description) and ``describe(images, prompts)``. Backends: ``local.py`` (a ``transformers``
captioner, BLIP class, in this process) and ``remote.py`` (any OpenAI-compatible chat
endpoint: Ollama, vLLM, OpenAI). ``configured()`` returns the one the settings name.
"""

from indexing.vision.describe.base import Describer, configured, reset_describers
from indexing.vision.describe.errors import DescriberError

__all__ = ["Describer", "DescriberError", "configured", "reset_describers"]
