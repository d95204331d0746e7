"""The shell commands and links of README.md and docs/*.md, as tests/test_docs.py checks them.

A command is a line (continuations joined) of a ```bash, ```sh, ```shell or ```console
block (console: only lines after a `$ ` prompt). Each is split the way the shell splits
it, into simple commands at `&&`, `||`, `;` and `|`; redirections and subshells are refused,
because a placeholder such as `<run_id>` is a redirection to the shell, not a value.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
SEPARATORS = {"&&", "||", ";", "|"}
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
PYTHONS = {"python", "python3", ".venv/bin/python"}
# Markdown links and pictures, [text](target) / ![alt](target); inline code is removed first.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"`[^`\n]*`")


@dataclass(frozen=True)
class Command:
    """One simple command: where it is written, and its words after the shell's quoting."""

    source: str
    words: tuple[str, ...]
    line: str

    def __str__(self) -> str:
        return f"{self.source}: {self.line}"


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def fenced_blocks(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(first line number, language, lines) of every fenced code block in a Markdown file."""
    fence, language, start, lines = None, "", 0, []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(text)
        if fence is None and match:
            fence, language, start, lines = match.group(1), match.group(2).lower(), number + 1, []
        elif fence is not None and re.fullmatch(f"{re.escape(fence[0])}{{{len(fence)},}}", text.strip()):
            yield start, language, lines
            fence = None
        elif fence is not None:
            lines.append(text)


def command_lines(path: Path) -> Iterator[tuple[str, str]]:
    """(source, line) of every shell command line in the file's shell blocks."""
    for start, language, lines in fenced_blocks(path):
        if language not in SHELL_LANGUAGES:
            continue
        pending, pending_at = "", 0
        for offset, text in enumerate(lines):
            if language == "console":
                if not text.lstrip().startswith("$ "):
                    continue  # the command's output
                text = text.lstrip()[2:]
            if not pending:
                pending_at = start + offset
            if text.rstrip().endswith("\\"):
                pending += text.rstrip()[:-1] + " "
                continue
            line, pending = (pending + text).strip(), ""
            if line and not line.startswith("#"):
                yield f"{relative(path)}:{pending_at}", line


def split_line(source: str, line: str) -> list[Command]:
    """The line's simple commands; ValueError for what the shell would not read as written."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    commands, words = [], []
    for token in [*tokens, ";"]:
        if token in SEPARATORS:
            if words:
                commands.append(Command(source, tuple(words), line))
            words = []
        elif set(token) <= set("<>()&;|"):
            raise ValueError(f"{source}: {token!r} is shell syntax (a redirection or subshell): {line}")
        else:
            words.append(token)
    return commands


def doc_commands() -> list[Command]:
    return [command for path in DOCS for source, line in command_lines(path) for command in split_line(source, line)]


def assigned_names(path: Path) -> set[str]:
    """Names assigned in the file's shell blocks: later commands may use them as $NAME."""
    names: set[str] = set()
    if not path.is_file():
        return names
    for _, line in command_lines(path):
        for word in shlex.split(line, comments=True):
            if match := ASSIGNMENT.match(word):
                names.add(match.group(1))
    return names


@cache
def makefile_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M))


def heading_anchors(path: Path) -> set[str]:
    """The ids MkDocs (and GitHub, for these headings) gives the file's headings."""
    anchors, in_code = set(), False
    for text in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(text):
            in_code = not in_code
        elif not in_code and (match := re.match(r"^#{1,6}\s+(.+?)\s*#*$", text)):
            plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(1)).replace("`", "").replace("*", "")
            anchors.add(slugify(plain, "-"))
    return anchors


def relative_links(path: Path) -> Iterator[str]:
    """Every link target in the file's prose that is not a URL (fenced code and inline code left out)."""
    in_code = False
    for text in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(text):
            in_code = not in_code
            continue
        if in_code:
            continue
        for target in LINK.findall(INLINE_CODE.sub("", text)):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):
                yield target


def broken_link(path: Path, target: str) -> str | None:
    """Why a relative link from this file does not lead anywhere, or None when it does."""
    file_part, _, anchor = target.partition("#")
    linked = (path.parent / file_part).resolve() if file_part else path
    if not linked.exists():
        return f"{relative(path)}: {target} names no file"
    if anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
        return f"{relative(path)}: {target}: {relative(linked)} has no heading #{anchor}"
    return None
