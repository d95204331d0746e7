"""Every string a reader sees has its Korean, and the committed catalog is the one the site reads.

makemessages runs over a copy of the sources (the committed .po beside them), so a
template or message added without its translation fails here: as an empty msgstr, or
as a fuzzy guess msgmerge made from a similar string. The compiled .mo is committed
(the site and its image need no gettext); it must hold exactly what the .po says.
"""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "locale" / "ko" / "LC_MESSAGES"
SOURCES = ("indexing", "search", "mlops", "visualsearch", "templates", "locale", "manage.py")


def po_entries(text: str) -> list[dict]:
    """The .po's entries (header left out): msgctxt, msgid, msgstr(s), flags. Enough of the format for this check."""
    entries: list[dict] = []
    for block in text.split("\n\n"):
        entry: dict = {"flags": "", "msgstr": []}
        field = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += line
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                value = _unquote(line)
                if field == "msgstr":
                    entry["msgstr"][-1] += value
                else:
                    entry[field] += value
            else:
                keyword, _, rest = line.partition(" ")
                field = "msgstr" if keyword.startswith("msgstr") else keyword
                if field == "msgstr":
                    entry["msgstr"].append(_unquote(rest))
                else:
                    entry[field] = _unquote(rest)
        if entry.get("msgid"):
            entries.append(entry)
    return entries


ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), quoted.strip()[1:-1])


def key(entry: dict) -> str:
    return f"{entry.get('msgctxt', '')}\x04{entry['msgid']}"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    """The Korean .po as makemessages makes it from today's sources, merged with the committed translations."""
    if not (shutil.which("xgettext") and shutil.which("msgmerge")):
        pytest.fail("GNU gettext is missing; `make test` installs it (Debian's gettext package).")
    copy = tmp_path_factory.mktemp("i18n") / "project"
    copy.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        else:
            shutil.copy2(source, copy / name)
    env = {**os.environ, "DEBUG": "true", "PYTHONPATH": str(copy), "DJANGO_SETTINGS_MODULE": "visualsearch.settings"}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ko", "--add-location=file", "-v0"],
        cwd=copy,
        env=env,
        check=True,
        timeout=300,
    )
    return copy / "locale" / "ko" / "LC_MESSAGES" / "django.po"


def test_every_string_has_its_korean_and_none_is_fuzzy(extracted: Path):
    entries = po_entries(extracted.read_text(encoding="utf-8"))
    assert len(entries) > 150  # the pages, the messages and the 80 COCO names
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not untranslated, f"{len(untranslated)} strings have no Korean in locale/ko: {untranslated[:10]}"
    assert not fuzzy, f"fuzzy (guessed) Korean to check: {fuzzy[:10]}"


def test_the_committed_catalog_is_up_to_date_with_the_sources(extracted: Path):
    """Strings that left the code leave the catalog too: run makemessages and commit its .po."""
    made = {key(e) for e in po_entries(extracted.read_text(encoding="utf-8"))}
    committed = po_entries((CATALOG / "django.po").read_text(encoding="utf-8"))
    assert {key(e) for e in committed} == made
    assert not [e["msgid"] for e in committed if e["msgid"] and "obsolete" in e["flags"]]


def test_the_committed_mo_is_the_po_compiled(tmp_path: Path):
    if not shutil.which("msgfmt"):
        pytest.fail("GNU gettext is missing; `make test` installs it (Debian's gettext package).")
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(CATALOG / "django.po")], check=True, timeout=60)
    with fresh.open("rb") as made, (CATALOG / "django.mo").open("rb") as committed:
        # Compared as catalogs, not bytes: msgfmt versions may lay the same catalog out differently.
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(made)._catalog, (
            "locale/ko/LC_MESSAGES/django.mo is stale: run `manage.py compilemessages` and commit it"
        )
