"""Which prompt asks about a crop: its label's DescriptionPrompt row, the default row, or the describer's own."""

from __future__ import annotations

from indexing.models import DescriptionPrompt
from indexing.vision.describe import Describer


class Prompts:
    """The prompts of one run, read once (an admin edit applies from the next run)."""

    def __init__(self, describer: Describer) -> None:
        rows = dict(DescriptionPrompt.objects.values_list("label", "prompt"))
        self._by_label = {label: prompt for label, prompt in rows.items() if label}
        self._default = rows.get("") or describer.default_prompt

    def for_label(self, label: str) -> str:
        template = self._by_label.get(label, self._default)
        # str.replace, not format: a prompt with other braces (JSON examples) stays as written.
        return template.replace("{label}", label)
