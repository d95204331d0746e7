"""Every command in the README and docs/ runs as written, and every relative link leads somewhere.

Each shell command of the docs is checked against what it names (tests/docs_checks.py): a
Makefile target, a manage.py command and its own argparse, a bench script's argparse, a
URL the project routes, files and services of the compose stack, settings .env.example
documents. The ones that run offline in seconds (`manage.py check`, the docs build) are
run for real. A checker that accepted anything would pass too, so it is also shown broken
commands, one per kind, and must refuse each.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import call_command

from tests.docs_checks import Checker
from tests.docs_commands import DOCS, ROOT, Command, broken_link, doc_commands, relative, relative_links, split_line

# One typo per kind of command, each of which the checker must refuse.
BROKEN = [
    "make dmeo",
    "FOO_NOT_A_SETTING=1 make demo",
    ".venv/bin/python manage.py reembd --status",
    ".venv/bin/python manage.py embed_and_index --dataset-pth datasets/coco_subset/version_1",
    ".venv/bin/python manage.py train_detector --epochs eighty",
    ".venv/bin/python -m pytest tests/test_no_such_file.py",
    "curl -s http://127.0.0.1:8000/api/serch/text",
    "curl -s -X DELETE http://127.0.0.1:8000/api/search/text",
    "celery -A visualsearch worker -Q gpu,default --concurency 1",
    "docker compose exec wbe python manage.py createsuperuser",
    "docker compose exec web python manage.py createsuperusr",
    "docker compose -f docker-compose.gpu.yml up -d",
    "docker build --build-arg FLAVOUR=cpu -t visualsearch:cpu .",
    "cp .env.sample .env",
    "rm -rf var",
    'echo "$NOT_SET_ANYWHERE"',
]
BROKEN_BENCH = ".venv/bin/python bench/ann.py --vectros my_embeddings.npy"  # (--vector would pass: a prefix)


def commands_of(line: str) -> list[Command]:
    return split_line("docs/test.md:1", line)


@pytest.fixture(scope="module")
def checked() -> tuple[Checker, list[str], list[Command]]:
    checker, problems = Checker(), []
    commands = doc_commands()
    for command in commands:
        if problem := checker.check(command):
            problems.append(f"{command}\n    -> {problem}")
    checker.bench += [(command, command.words[1], command.words[2:]) for command in commands_of(BROKEN_BENCH)]
    return checker, problems + checker.bench_errors(), commands


def test_the_docs_have_commands_of_every_kind(checked):
    _, _, commands = checked
    first_words = {command.words[0] for command in commands}
    assert {"make", "curl", "docker", "celery", ".venv/bin/python", "python"} <= first_words
    assert len(commands) > 50, [str(command) for command in commands]


def test_every_documented_command_runs_as_written(checked):
    _, problems, _ = checked
    broken_bench = [problem for problem in problems if BROKEN_BENCH in problem]
    assert broken_bench and "--vectros" in broken_bench[0], problems  # the bench check refuses a typo too
    problems = [problem for problem in problems if BROKEN_BENCH not in problem]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("line", BROKEN)
def test_a_broken_command_is_refused(line):
    checker = Checker()
    verdicts = [checker.check(command) for command in commands_of(line)]
    assert any(verdicts), f"accepted: {line}"


def test_a_placeholder_in_angle_brackets_is_refused():
    # `<run_id>` is a redirection to the shell: the command would not run as written.
    with pytest.raises(ValueError, match="redirection"):
        commands_of(".venv/bin/python manage.py evaluate_detector --weights runs:/<run_id>/weights/best.pt")


def test_the_offline_commands_run(checked, tmp_path):
    checker, _, _ = checked
    kinds = {kind for kind, _, _ in checker.runnable}
    assert kinds == {"check", "docs"}, checker.runnable  # documented, so run below
    for kind, command, args in checker.runnable:
        if kind == "check":
            call_command("check", *args)
        else:
            # `make docs` is `mkdocs build --strict` (the recipe says so); here into a temporary folder.
            recipe = subprocess.run(
                ["make", "-n", "docs", f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True, text=True
            )
            assert f"{tmp_path / 'venv'}/bin/mkdocs build --strict" in recipe.stdout.splitlines(), recipe.stdout
            built = subprocess.run(
                [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert built.returncode == 0, f"{command}\n{built.stderr}"
            assert (tmp_path / "site" / "security" / "index.html").read_text().count("Reporting a vulnerability")


def test_every_relative_link_leads_to_a_file_and_heading():
    links = [(path, target) for path in DOCS for target in relative_links(path)]
    assert len(links) > 30
    problems = [problem for path, target in links if (problem := broken_link(path, target))]
    assert not problems, "\n".join(problems)


def test_a_link_to_a_missing_heading_is_refused():
    readme = ROOT / "README.md"
    assert broken_link(readme, "docs/benchmarks.md#the-demos-server") is None
    assert "no heading" in broken_link(readme, "docs/benchmarks.md#the-demo-server")
    assert "names no file" in broken_link(readme, "docs/benchmark.md")


def test_every_docs_page_is_in_the_site_navigation():
    # mkdocs --strict warns on a page left out of the nav; this says which file, before the build.
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = sorted(relative(path).removeprefix("docs/") for path in DOCS if path.parent.name == "docs")
    assert [page for page in pages if f": {page}" not in nav] == []
