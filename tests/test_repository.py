"""The repository holds source, never one machine's state.

A tracked ``.venv`` symlink into a CI cache once broke both README commands on every
fresh clone (``python3 -m venv .venv``: File exists) while CI, which sets its own
``VENV``, stayed green. These checks read what git tracks, so a file that only works on
the machine that committed it fails here first.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Folders that only ever hold machine state: virtualenvs, the demo's database and media,
# run outputs, caches.
STATE_DIRS = {
    ".venv",
    "venv",
    "env",
    "var",
    "media",
    "mlruns",
    "runs",
    "datasets",
    "staticfiles",
    "test-artifacts",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "node_modules",
}
STATE_SUFFIXES = (".pyc", ".pyo", ".sqlite3", ".pid", ".log")
STATE_NAMES = {"pyvenv.cfg", ".env", "demo-admin-password"}
# Absolute paths that exist only on a development or CI machine of ours. CI's cache folder
# is named by .ci/run alone (its default), never by a file the clone uses.
MACHINE_PATHS = ("/var/cache/visualsearch-ci", "/work/", "/home/", "/root/")
MAY_NAME_CI_CACHE = {".ci/run"}


def tracked_entries(root: Path = ROOT) -> list[tuple[str, str]]:
    """(mode, path) of every file git tracks; mode 120000 is a symlink."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-s", "-z"], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.fail(f"the repository checks need a git checkout with git installed: {error}")
    entries = []
    for record in filter(None, out.split("\0")):
        meta, path = record.split("\t", 1)
        entries.append((meta.split()[0], path))
    return entries


def symlink_problems(root: Path, entries: list[tuple[str, str]]) -> list[str]:
    problems = []
    for mode, path in entries:
        if mode != "120000":
            continue
        target = subprocess.run(
            ["git", "-C", str(root), "cat-file", "-p", f":{path}"], check=True, capture_output=True, text=True
        ).stdout
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            problems.append(f"{path} -> {target} (a symlink leaving the repository)")
    return problems


def state_problems(entries: list[tuple[str, str]]) -> list[str]:
    problems = []
    for _mode, path in entries:
        parts = path.split("/")
        if STATE_DIRS & set(parts[:-1]) or parts[-1] in STATE_DIRS:
            problems.append(f"{path} (inside a folder of machine state)")
        elif parts[-1] in STATE_NAMES or parts[-1].endswith(STATE_SUFFIXES):
            problems.append(f"{path} (a file of machine state)")
    return problems


def machine_path_problems(root: Path, entries: list[tuple[str, str]]) -> list[str]:
    problems = []
    for mode, path in entries:
        if mode == "120000" or path == "tests/test_repository.py":
            continue
        file = root / path
        try:
            text = file.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        allowed = {"/var/cache/visualsearch-ci"} if path in MAY_NAME_CI_CACHE else set()
        problems += [f"{path} names {p}" for p in MACHINE_PATHS if p in text and p not in allowed]
    return problems


def test_no_tracked_symlink_leaves_the_repository():
    assert symlink_problems(ROOT, tracked_entries()) == []


def test_no_machine_state_is_tracked():
    assert state_problems(tracked_entries()) == []


def test_no_absolute_path_of_a_machine_is_tracked():
    assert machine_path_problems(ROOT, tracked_entries()) == []


def test_gitignore_ignores_a_venv_symlink_and_state(tmp_path):
    """``.venv/`` matches a folder only: a symlink named .venv slipped through it once."""
    repo = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    os.symlink("/nonexistent/venv", repo / ".venv")
    (repo / "var").mkdir()
    (repo / "var" / "db").write_text("x")
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert status.split() == ["??", ".gitignore"]


def test_the_checks_catch_a_tracked_venv_symlink(tmp_path):
    """The checks above fail on the very commit that broke fresh clones."""
    repo = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    os.symlink("/var/cache/visualsearch-ci/venv-a0502916793093aa", repo / ".venv")
    (repo / "indexing").mkdir()
    (repo / "indexing" / "__pycache__").mkdir()
    (repo / "indexing" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    subprocess.run(["git", "-C", str(repo), "add", "-f", "."], check=True)
    entries = tracked_entries(repo)
    assert symlink_problems(repo, entries) == [
        ".venv -> /var/cache/visualsearch-ci/venv-a0502916793093aa (a symlink leaving the repository)"
    ]
    assert state_problems(entries) == [
        ".venv (inside a folder of machine state)",
        "indexing/__pycache__/x.pyc (inside a folder of machine state)",
    ]
