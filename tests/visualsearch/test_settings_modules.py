"""The settings package: which module ``visualsearch.settings`` stands for, and every dotted path in it imports.

Settings are read once, at import, so each case imports the modules anew under its own
environment and puts the modules pytest loaded back afterwards.
"""

from __future__ import annotations

import importlib
import re
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import ModuleType
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

PACKAGE = "visualsearch.settings"
# Module paths (django.contrib.admin), attributes of one (search.api.SearchPermission) or of a class
# in one (ENUM_NAME_OVERRIDES): names with at least one dot, no slash, no dash.
DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
# Settings whose dotted strings name no Python object: hosts, files, keys, system check ids. Dict keys
# are never read as paths (Celery's task-name globs in CELERY_TASK_ROUTES, logger names in LOGGING).
NOT_PATHS = {"ALLOWED_HOSTS", "COCO_IMAGE_HOSTS", "CSRF_TRUSTED_ORIGINS", "DETECTOR_WEIGHTS", "SECRET_KEY"}
NOT_PATHS |= {"SILENCED_SYSTEM_CHECKS"}
# Production with every optional backend on: a bucket, a Redis cache, JSON log lines.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "GS_BUCKET_NAME": "visualsearch-test-media",
    "CACHE_URL": "redis://127.0.0.1:6379/0",
    "LOG_FORMAT": "json",
}


@contextmanager
def fresh_import(module: str, monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None]) -> Iterator[ModuleType]:
    """``module`` imported anew with ``env`` (None: unset); the settings modules pytest loaded are restored after."""
    package = sys.modules[PACKAGE]
    loaded = {name: mod for name, mod in sys.modules.items() if name.startswith(PACKAGE + ".")}
    for name in loaded:
        del sys.modules[name]
    try:
        with monkeypatch.context() as patch:
            for key, value in env.items():
                if value is None:
                    patch.delenv(key, raising=False)
                else:
                    patch.setenv(key, value)
            yield importlib.import_module(module)
    finally:
        for name in [name for name in sys.modules if name.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        sys.modules.update(loaded)
        for name, mod in loaded.items():
            setattr(package, name.rpartition(".")[2], mod)


def dotted_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if DOTTED.match(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from dotted_strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from dotted_strings(item)


def paths_in(settings: ModuleType) -> dict[str, set[str]]:
    """Setting name -> the dotted paths in its value, for every setting that holds one."""
    found = {name: set(dotted_strings(getattr(settings, name))) for name in dir(settings) if name.isupper()}
    # Apps are module names, dotted or not ("axes", "indexing").
    found["INSTALLED_APPS"] = set(settings.INSTALLED_APPS)
    return {name: paths for name, paths in found.items() if paths and name not in NOT_PATHS}


def resolve(path: str) -> object:
    """What a dotted path names: a module, an attribute of one, or an attribute of that (as drf-spectacular reads)."""
    with suppress(ImportError):
        return importlib.import_module(path)
    with suppress(ImportError):
        return import_string(path)
    owner, _, attribute = path.rpartition(".")
    return getattr(import_string(owner), attribute)


def broken_paths(settings: ModuleType) -> list[str]:
    broken = []
    for name, paths in sorted(paths_in(settings).items()):
        for path in sorted(paths):
            try:
                resolve(path)
            except (ImportError, AttributeError) as error:
                broken.append(f"{name}: {path} ({error})")
    return broken


@pytest.mark.parametrize(
    ("module", "env"), [("visualsearch.settings.test", {}), ("visualsearch.settings.production", PRODUCTION_ENV)]
)
def test_every_dotted_path_in_the_settings_imports(module: str, env: dict[str, str], monkeypatch):
    with fresh_import(module, monkeypatch, env) as settings:
        found = paths_in(settings)
        broken = broken_paths(settings)
    # Guards the scanner: each of these holds paths, so finding none would make the check vacuous.
    expected = {"MIDDLEWARE", "INSTALLED_APPS", "FILE_UPLOAD_HANDLERS", "AUTHENTICATION_BACKENDS", "STORAGES"}
    assert expected | {"REST_FRAMEWORK", "SPECTACULAR_SETTINGS", "LOGGING", "TEMPLATES", "CACHES"} <= set(found)
    # SERVE_PERMISSIONS and an ENUM_NAME_OVERRIDES entry.
    assert len(found["SPECTACULAR_SETTINGS"]) >= 2
    assert not broken, "settings name paths that do not import:\n" + "\n".join(broken)


def test_production_paths_include_its_own_backends(monkeypatch):
    with fresh_import("visualsearch.settings.production", monkeypatch, PRODUCTION_ENV) as settings:
        paths = set().union(*paths_in(settings).values())
    assert {"whitenoise.middleware.WhiteNoiseMiddleware", "whitenoise.storage.CompressedStaticFilesStorage"} <= paths
    assert {"storages.backends.gcloud.GoogleCloudStorage", "django.core.cache.backends.redis.RedisCache"} <= paths
    assert "visualsearch.logging.JsonFormatter" in paths


@pytest.mark.parametrize(
    ("debug", "chosen"), [("true", "development"), ("false", "production"), ("", "production"), (None, "production")]
)
def test_visualsearch_settings_is_development_only_with_debug_true(debug: str | None, chosen: str, monkeypatch):
    with fresh_import(PACKAGE, monkeypatch, {"DEBUG": debug, "SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"]}) as package:
        assert package.chosen_module() == f"{PACKAGE}.{chosen}"
        # Django reads the package like a module: dir() for the names, then each one.
        assert package.DEBUG is (chosen == "development")
        assert "MIDDLEWARE" in dir(package)
        whitenoise = "whitenoise.middleware.WhiteNoiseMiddleware"
        assert (whitenoise in package.MIDDLEWARE) is (chosen == "production")


def test_the_package_stands_for_nothing_but_settings(monkeypatch):
    """Lower-case names are the package's own: importing a submodule must not load the chosen settings."""
    with fresh_import(PACKAGE, monkeypatch, {"DEBUG": None, "SECRET_KEY": None}) as package:
        with pytest.raises(AttributeError):
            package.no_such_name  # noqa: B018
        # A part of the settings imports on its own, without the chosen module (production, which
        # would refuse to load here without a key).
        assert importlib.import_module(f"{PACKAGE}.base").DATABASES
        assert f"{PACKAGE}.production" not in sys.modules


@pytest.mark.parametrize(
    ("module", "debug"), [("visualsearch.settings.production", "true"), ("visualsearch.settings.development", "false")]
)
def test_a_named_module_refuses_a_debug_variable_that_contradicts_it(module: str, debug: str, monkeypatch):
    env = {"DEBUG": debug, "SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"], "DJANGO_SETTINGS_MODULE": module}
    refused = pytest.raises(ImproperlyConfigured, match=rf"DEBUG={debug} contradicts DJANGO_SETTINGS_MODULE={module}")
    with refused, fresh_import(module, monkeypatch, env):
        pass
