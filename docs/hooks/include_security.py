"""MkDocs hook: the site's Security page is the root SECURITY.md, kept there for GitHub.

docs/security.md is a stub that links to ../SECURITY.md (right on GitHub, outside the docs
folder for MkDocs); at build time its text is replaced by the policy itself, so the site
holds one copy of it and the policy is never written twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PAGE = "security.md"


def _policy(config: Any) -> Path:
    return Path(config["config_file_path"]).parent / "SECURITY.md"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    return _policy(config).read_text(encoding="utf-8")


def on_serve(server: Any, config: Any, builder: Any) -> Any:
    # `mkdocs serve` rebuilds when the policy changes, as it does for the pages themselves.
    server.watch(str(_policy(config)))
    return server
