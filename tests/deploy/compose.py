"""Reading the compose files and .env.example the way Docker Compose does, without Docker.

No Docker engine runs where the tests run, so the tests parse the files themselves:
YAML with Compose's ``!reset``/``!override`` tags, ``${VAR...}`` interpolation names,
override merging, and ``.env`` lines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_CPU = ROOT / "docker-compose.cpu.yml"
ENV_EXAMPLE = ROOT / ".env.example"

# A setting line: NAME=value, or "# NAME=value" for one left at its default.
SETTING_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")
# ${NAME}, ${NAME:-default}, ${NAME:?error} ... but not the escaped $${NAME}.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


class Reset:
    """Compose's ``!reset``: the key is removed from the merged file."""


class Override:
    """Compose's ``!override``: the value replaces instead of merging."""

    def __init__(self, value: Any) -> None:
        self.value = value


class ComposeLoader(yaml.SafeLoader):
    pass


def _construct_reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    return Reset()


def _construct_override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))


ComposeLoader.add_constructor("!reset", _construct_reset)
ComposeLoader.add_constructor("!override", _construct_override)


def load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=ComposeLoader)


def merge(base: Any, override: Any) -> Any:
    """Merge an override file into a base the way ``docker compose -f a -f b`` does (mappings only)."""
    if isinstance(override, Override):
        return override.value
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Reset):
            merged.pop(key, None)
        else:
            merged[key] = merge(base.get(key), value) if key in base else value
    return merged


def interpolated_names(path: Path) -> set[str]:
    return set(INTERPOLATION.findall(path.read_text()))


def env_example_lines() -> list[str]:
    return ENV_EXAMPLE.read_text().splitlines()


def env_example_names() -> list[str]:
    return [m.group(1) for line in env_example_lines() if (m := SETTING_LINE.match(line))]


def env_example_active_values() -> dict[str, str]:
    """The uncommented NAME=value lines: what a fresh ``cp .env.example .env`` sets."""
    return {
        m.group(1): m.group(2)
        for line in env_example_lines()
        if not line.startswith("#") and (m := SETTING_LINE.match(line))
    }
