"""Does a documented command run as written? One check per kind of command, none of them running it.

`check()` answers with what is wrong (None when nothing is). Commands of a kind no check
knows fail, unless `ALLOWED` names them with the reason they cannot be checked here. The
`bench/` scripts' arguments are parsed by their own argparse in one subprocess (`bench_errors`),
which imports them as `python bench/X.py` would and stops right after the parse.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import click
from django.core.management import CommandError, get_commands, load_command_class
from django.urls import Resolver404, resolve

from tests.deploy.compose import COMPOSE, env_example_names, load
from tests.docs_commands import ASSIGNMENT, PYTHONS, REFERENCE, ROOT, Command, assigned_names, makefile_targets

# Commands no check here can verify, each with the reason. Keep it short.
ALLOWED: dict[tuple[str, ...], str] = {}
COMPOSE_SUBCOMMANDS = {"up", "exec", "run", "logs", "ps", "down", "build", "pull", "restart", "stop"}
COMPOSE_OPTIONS_WITH_VALUE = {"--scale", "-e", "--env", "-u", "--user", "-w", "--workdir", "--timeout", "-t"}
CURL_DATA = {"-d", "--data", "--data-raw", "--data-binary", "-F", "--form", "--json"}
CURL_OPTIONS_WITH_VALUE = {"-X", "--request", "-H", "--header", "-o", "--output", "-u", "--user", *CURL_DATA}

BENCH_PARSE = """
import argparse, contextlib, io, json, runpy, sys
class Parsed(Exception):
    pass
parse = argparse.ArgumentParser.parse_args
def parse_and_stop(self, args=None, namespace=None):
    parse(self, args, namespace)
    raise Parsed
argparse.ArgumentParser.parse_args = parse_and_stop
sys.path.insert(0, "bench")
verdicts = []
for script, args in json.loads(sys.argv[1]):
    sys.argv, err = [script, *args], io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            runpy.run_path(script, run_name="__main__")
        verdicts.append("the script never parsed its arguments")
    except Parsed:
        verdicts.append(None)
    except SystemExit as stop:
        verdicts.append(err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {stop.code}")
print(json.dumps(verdicts))
"""


@cache
def settings_names() -> frozenset[str]:
    return frozenset(env_example_names())


@cache
def compose_services() -> dict[str, dict]:
    return load(COMPOSE)["services"]


def doc_file(command: Command) -> Path:
    return ROOT / command.source.rsplit(":", 1)[0]


def doc_text(command: Command) -> str:
    path = doc_file(command)
    return path.read_text(encoding="utf-8") if path.is_file() else ""


class Checker:
    def __init__(self) -> None:
        self.bench: list[tuple[Command, str, tuple[str, ...]]] = []
        self.runnable: list[tuple[str, Command, tuple[str, ...]]] = []

    def check(self, command: Command) -> str | None:
        words = list(command.words)
        if words and words[0] == "export":
            words = words[1:]
        while words and (match := ASSIGNMENT.match(words[0])):
            if problem := self.variable(command, match.group(1)):
                return problem
            words = words[1:]
        for name in REFERENCE.findall(command.line):
            if name not in settings_names() and name not in assigned_names(doc_file(command)):
                return f"${name} is neither a setting in .env.example nor set earlier in the page"
        if not words:
            return None  # only assignments
        if tuple(words[:2]) in ALLOWED or tuple(words[:1]) in ALLOWED:
            return None
        kind = {"make": self.make, "curl": self.curl, "docker": self.docker, "celery": self.celery, "cp": self.copy}
        if words[0] in kind:
            return kind[words[0]](command, words)
        if words[0] in PYTHONS:
            return self.python(command, words[1:])
        return f"no check knows {words[0]!r}: add one to tests/docs_checks.py, or an ALLOWED entry with its reason"

    def variable(self, command: Command, name: str) -> str | None:
        if name in settings_names() or f"${name}" in doc_text(command) or f"${{{name}}}" in command.line:
            return None
        return f"{name} is not a setting .env.example documents, and the page never uses ${name}"

    def make(self, command: Command, words: list[str]) -> str | None:
        makefile = (ROOT / "Makefile").read_text()
        for word in words[1:]:
            if match := ASSIGNMENT.match(word):
                if match.group(1) not in settings_names() and f"$({match.group(1)})" not in makefile:
                    return f"make variable {match.group(1)} is not used by the Makefile"
            elif word.startswith("-"):
                return f"make option {word}: not checked here"
            elif word not in makefile_targets():
                return f"the Makefile has no target {word!r}"
            elif word == "docs":
                self.runnable.append(("docs", command, ()))
        return None

    def python(self, command: Command, words: list[str]) -> str | None:
        if words[:1] == ["manage.py"] and len(words) > 1:
            return self.manage(command, words[1], words[2:])
        if words[:2] == ["-m", "pytest"]:
            # -m and -k take a value (a marker or keyword expression), not a path.
            values = {i + 1 for i, word in enumerate(words) if word in ("-m", "-k") and i >= 2}
            paths = [w.split("::")[0] for i, w in enumerate(words) if i >= 2 and i not in values and w[:1] != "-"]
            missing = [path for path in paths if not (ROOT / path).exists()]
            return f"no test file {missing}" if missing else None
        if words[:1] and words[0].startswith("bench/") and words[0].endswith(".py"):
            if not (ROOT / words[0]).is_file():
                return f"no script {words[0]}"
            self.bench.append((command, words[0], tuple(words[1:])))
            return None
        return "a python command the docs test does not know (manage.py, -m pytest, bench/*.py)"

    def manage(self, command: Command, name: str, args: list[str]) -> str | None:
        apps = get_commands()
        if name not in apps:
            return f"manage.py has no command {name!r}"
        parser = load_command_class(apps[name], name).create_parser("manage.py", name)
        try:
            parser.parse_args(args)
        except CommandError as error:
            return f"manage.py {name}: {error}"
        if name == "check" and "--deploy" not in args:
            self.runnable.append(("check", command, tuple(args)))
        return None

    def curl(self, command: Command, words: list[str]) -> str | None:
        method, urls, options = None, [], iter(words[1:])
        for word in options:
            if word in ("-X", "--request"):
                method = next(options, "")
            elif word in CURL_DATA:
                method = method or "POST"
                next(options, None)
            elif word in CURL_OPTIONS_WITH_VALUE:
                next(options, None)
            elif re.match(r"^https?://", word):
                urls.append(word)
        if len(urls) != 1:
            return f"curl needs one http(s) URL, got {urls}"
        method = (method or "GET").lower()
        try:
            match = resolve(urlsplit(urls[0]).path)
        except Resolver404:
            return f"no view answers {urlsplit(urls[0]).path}"
        view = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
        if view is not None and (method not in view.http_method_names or not hasattr(view, method)):
            return f"{urlsplit(urls[0]).path} does not take {method.upper()}"
        return None

    def docker(self, command: Command, words: list[str]) -> str | None:
        if words[1:2] == ["build"]:
            dockerfile = (ROOT / words[-1] / "Dockerfile").read_text()
            declared = set(re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)", dockerfile, re.M))
            args = [words[i + 1].split("=")[0] for i, word in enumerate(words) if word == "--build-arg"]
            unknown = set(args) - declared
            return f"the Dockerfile declares no ARG {sorted(unknown)}" if unknown else None
        if words[1:2] != ["compose"]:
            return "a docker command the docs test does not know (build, compose)"
        rest, services = words[2:], compose_services()
        while rest and rest[0] in ("-f", "--file", "--profile"):
            option, value, rest = rest[0], rest[1], rest[2:]
            profiles = {profile for service in services.values() for profile in service.get("profiles", [])}
            if option == "--profile" and value not in profiles:
                return f"the compose file has no profile {value!r}"
            if option != "--profile" and not (ROOT / value).is_file():
                return f"no compose file {value}"
        if not rest or rest[0] not in COMPOSE_SUBCOMMANDS:
            return f"a compose subcommand the docs test does not know: {rest[:1]}"
        names, options = [], iter(rest[1:])
        for word in options:
            if word in COMPOSE_OPTIONS_WITH_VALUE:
                value = next(options, "")
                names += [value.split("=")[0]] if word == "--scale" else []
            elif not word.startswith("-"):
                names.append(word)
                if rest[0] in ("exec", "run"):
                    break
        if unknown := [name for name in names if name not in services]:
            return f"the compose file has no service {unknown}"
        if rest[0] in ("exec", "run"):
            inner = list(options)
            return self.check(Command(command.source, tuple(inner), " ".join(inner))) if inner else None
        return None

    def celery(self, command: Command, words: list[str]) -> str | None:
        from celery.app.utils import find_app
        from celery.bin.base import CLIContext
        from celery.bin.celery import celery

        try:
            context = celery.make_context("celery", words[1:])
            context.obj = CLIContext(app=find_app(context.params["app"]), no_color=True, workdir=None, quiet=True)
            with warnings.catch_warnings():  # Click 8.2 deprecates protected_args; 9.0 keeps them in args
                warnings.simplefilter("ignore", DeprecationWarning)
                pending = [*getattr(context, "protected_args", []), *context.args]
            name, subcommand, rest = celery.resolve_command(context, pending)
            subcommand.make_context(name, rest, parent=context)
        except click.ClickException as error:
            return f"celery: {error.format_message()}"
        return None

    def copy(self, command: Command, words: list[str]) -> str | None:
        sources = [word for word in words[1:-1] if not word.startswith("-")]
        missing = [source for source in sources if not (ROOT / source).exists()]
        return f"cp: no file {missing}" if missing else None

    def bench_errors(self) -> list[str]:
        """Each bench command whose script refuses its arguments, with argparse's message."""
        if not self.bench:
            return []
        calls = [[script, list(args)] for _, script, args in self.bench]
        done = subprocess.run(
            [sys.executable, "-c", BENCH_PARSE, json.dumps(calls)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "DEBUG": "true"},
        )
        assert done.returncode == 0, done.stderr[-3000:]
        verdicts = json.loads(done.stdout.strip().splitlines()[-1])
        return [
            f"{command}: {verdict}" for (command, _, _), verdict in zip(self.bench, verdicts, strict=True) if verdict
        ]
