""".env.example documents every setting the code reads, and nothing else.

Names come from the code itself: every ``env("NAME")``/``env.bool("NAME")``/...
call in the settings package (visualsearch/settings/*.py), every ``os.environ``/``os.getenv`` key in the
project's Python outside tests, and every ``${NAME}`` the compose files interpolate.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tests.deploy.compose import (
    COMPOSE,
    COMPOSE_CPU,
    ROOT,
    SETTING_LINE,
    env_example_active_values,
    env_example_lines,
    env_example_names,
    interpolated_names,
)

SKIP_DIRS = {"tests", "var", "node_modules", "datasets", "runs", "mlruns"}


def string_arg(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def settings_modules() -> list[Path]:
    return sorted((ROOT / "visualsearch" / "settings").glob("*.py"))


def settings_env_names() -> set[str]:
    """First argument of env(...), env.bool(...), env.int(...), ... in every module of the settings package."""
    names = set()
    for node in (node for path in settings_modules() for node in ast.walk(ast.parse(path.read_text()))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_env = (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"
        )
        if is_env and (name := string_arg(node)):
            names.add(name)
    return names


def is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def os_environ_names(tree: ast.AST) -> Iterator[str]:
    """Keys of os.environ[...], os.environ.get/setdefault/pop(...), os.getenv(...)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_os_environ(node.value):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                yield node.slice.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            is_getenv = node.func.attr == "getenv" and isinstance(target, ast.Name) and target.id == "os"
            if (is_getenv or is_os_environ(target)) and (name := string_arg(node)):
                yield name


def project_python_files() -> Iterator[Path]:
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if not any(part in SKIP_DIRS or part.startswith(".") for part in parts[:-1]):
            yield path


def code_environment_names() -> set[str]:
    names = settings_env_names()
    for path in project_python_files():
        names.update(os_environ_names(ast.parse(path.read_text(), filename=str(path))))
    return names


def test_the_scanner_sees_the_settings_it_must():
    # Guards the scanner itself: a regression here would make the tests below vacuous.
    names = code_environment_names()
    assert {"SECRET_KEY", "DEBUG", "DATABASE_URL", "GS_BUCKET_NAME", "ANN_RECALL_TARGET", "LOG_FORMAT"} <= names
    assert {"DJANGO_SETTINGS_MODULE", "YOLOV5_CONFIG_DIR"} <= names
    # One per part of the settings package, so a part the scanner skipped would show.
    parts = {"CELERY_BROKER_URL", "CLIP_MODEL", "DEDUP_ON_INGEST", "SEARCH_MAX_K", "DEMO_IMAGES", "MAX_UPLOAD_BYTES"}
    assert parts | {"SERVE_MEDIA", "SECURE_SSL_REDIRECT", "DATABASE_TEST_NAME"} <= settings_env_names()
    assert {"base.py", "development.py", "production.py", "test.py"} <= {path.name for path in settings_modules()}


def test_env_example_lists_every_setting_the_code_reads():
    missing = code_environment_names() - set(env_example_names())
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_includes_the_seed_mlflow_names():
    assert {"MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"} <= set(env_example_names())


def test_env_example_has_no_stale_names():
    used = code_environment_names() | interpolated_names(COMPOSE) | interpolated_names(COMPOSE_CPU)
    stale = set(env_example_names()) - used
    assert not stale, f".env.example lists {sorted(stale)}, which neither the code nor the compose files read"


def test_env_example_lists_each_name_once():
    duplicates = [name for name, count in Counter(env_example_names()).items() if count > 1]
    assert not duplicates


def test_every_setting_has_a_comment_above_it():
    lines = env_example_lines()
    for index, line in enumerate(lines):
        match = SETTING_LINE.match(line)
        if not match:
            continue
        above = lines[index - 1] if index else ""
        is_prose_comment = above.startswith("#") and not SETTING_LINE.match(above) and above.strip("# ")
        assert is_prose_comment, f"{match.group(1)} in .env.example has no comment line directly above it"


def test_production_values_are_safe_and_secrets_are_left_blank():
    values = env_example_active_values()
    assert values["DEBUG"] == "false"
    # Blank, so compose refuses to start until someone sets them (never a shared default).
    assert values["SECRET_KEY"] == ""
    assert values["POSTGRES_PASSWORD"] == ""
    for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT"):
        assert values[name] == "true", name
    assert int(values["SECURE_HSTS_SECONDS"]) > 0
    assert "localhost" in values["ALLOWED_HOSTS"].split(",")  # the web healthcheck's Host
