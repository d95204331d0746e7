"""Production settings: what a deployment with DEBUG off actually gets.

Settings are read once at import, so each case runs manage.py in a subprocess
with its own environment (the embedded PostgreSQL serves as the database).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.compose import ROOT, env_example_active_values


def production_env(**overrides: str) -> dict[str, str]:
    """What `cp .env.example .env` plus a SECRET_KEY gives: DEBUG off, every secure setting on.

    Compose supplies the service URLs; here Celery runs eagerly (no broker needed) and
    the embedded PostgreSQL stands in for DATABASE_URL.
    """
    return {
        **env_example_active_values(),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CELERY_BROKER_URL": "",
        **overrides,
    }


def subprocess_env(env: dict[str, str], drop: tuple[str, ...] = ()) -> dict[str, str]:
    # Without pytest's DJANGO_SETTINGS_MODULE (the test settings): manage.py chooses as a deployment's does.
    drop = (*drop, "DJANGO_SETTINGS_MODULE")
    return {key: value for key, value in {**os.environ, **env}.items() if key not in drop}


def manage(*args: str, env: dict[str, str], drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(env, drop),
        capture_output=True,
        text=True,
        timeout=120,
    )


def start(*args: str, env: dict[str, str], drop: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """Start manage.py without waiting: each run imports torch and transformers (~10 s), so they overlap."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(env, drop),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    stdout, stderr = process.communicate(timeout=180)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_debug_off_without_secret_key_fails_with_one_sentence():
    result = manage("check", env={"DEBUG": "false"}, drop=("SECRET_KEY",))
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "SECRET_KEY must be set when DEBUG is off" in last_line
    assert "secrets.token_urlsafe(50)" in last_line


@pytest.mark.parametrize(
    "key", ["insecure-dev-key-change-me", "collectstatic-only", "django-insecure-" + "x" * 50, "short"]
)
def test_debug_unset_refuses_a_known_or_weak_secret_key(key: str):
    """DEBUG is off when nobody sets it, so the development key is refused, not used."""
    result = manage("check", env={"SECRET_KEY": key}, drop=("DEBUG",))
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: SECRET_KEY is"), last_line


def test_dockerfile_sets_no_known_secret_key_and_debug_off():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "DEBUG=false" in dockerfile
    assert "SECRET_KEY=collectstatic-only" not in dockerfile
    assert "token_urlsafe(50)" in dockerfile


def test_collectstatic_needs_no_database_as_the_dockerfile_runs_it(tmp_path: Path):
    import re

    dockerfile = (ROOT / "Dockerfile").read_text()
    # The RUN instruction that collects static files, its continuation lines included.
    steps = re.findall(r"^RUN (?:[^\n]*\\\n)*[^\n]*", dockerfile, re.MULTILINE)
    collect = next(step for step in steps if "collectstatic --noinput" in step)
    assert "DEBUG=false" in collect
    # The image build sets no database setting at all: no dummy URL, no switch to skip a check.
    assert "DATABASE_" not in dockerfile, collect
    var_dir = tmp_path / "var"
    build_env = {"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "VISUALSEARCH_VAR_DIR": str(var_dir)}
    database_urls = {
        # None, as in the build: the embedded PostgreSQL would be started under var_dir.
        "embedded": "",
        # Nothing listens here: a connection attempt, or a check of the URL, would fail the run.
        "unreachable": "postgres://build@127.0.0.1:9/build",
    }
    runs = {
        name: start(
            "collectstatic",
            "--noinput",
            "-v0",
            env={**build_env, "DATABASE_URL": url, "STATIC_ROOT": str(tmp_path / name)},
        )
        for name, url in database_urls.items()
    }
    for name, process in runs.items():
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, (name, stderr[-3000:])
        # WhiteNoise's storage writes compressed copies next to the originals.
        assert (tmp_path / name / "admin" / "css" / "base.css").is_file()
        assert (tmp_path / name / "admin" / "css" / "base.css.gz").is_file()
    assert not (var_dir / "pgdata").exists(), "collectstatic started the embedded PostgreSQL"


# Run inside `manage.py shell`: report what the settings produced, as one JSON line.
PROBE = """
import json, logging
from django.conf import settings
from django.core.cache import caches
from django.core.files.storage import storages
from django.test import Client
from django.urls import Resolver404, resolve

storage = storages["default"]
client = Client()
try:
    media_view = resolve(settings.MEDIA_URL + "images/probe.png").func.__name__
except Resolver404:
    media_view = None
logging.getLogger("visualsearch.deploytest").warning("hello %s", "world", extra={"crop_id": 7})
facts = {
    "storage": f"{type(storage).__module__}.{type(storage).__name__}",
    "index_storage": f"{type(storages['indexes']).__module__}.{type(storages['indexes']).__name__}",
    "index_location": getattr(storages["indexes"], "location", None),
    "media_view": media_view,
    "bucket": getattr(storage, "bucket_name", None),
    "cache": f"{type(caches['default']).__module__}.{type(caches['default']).__name__}",
    "plain_http": client.get("/admin/login/", HTTP_HOST="localhost").status_code,
    "plain_http_location": client.get("/admin/login/", HTTP_HOST="localhost").get("Location"),
    "forwarded_https": client.get("/admin/login/", HTTP_HOST="localhost", HTTP_X_FORWARDED_PROTO="https").status_code,
    "healthz_plain_http": client.get("/healthz", HTTP_HOST="localhost").status_code,
    "media": client.get("/media/probe.txt", HTTP_HOST="localhost", HTTP_X_FORWARDED_PROTO="https").status_code,
}
print("FACTS " + json.dumps(facts))
"""


# With DEBUG unset: the settings, and what a visitor sees on an error page.
DEBUG_PROBE = """
import json
from django.conf import settings
from django.test import Client

page = Client().get("/no-such-page", HTTP_HOST="localhost", HTTP_X_FORWARDED_PROTO="https", secure=True)
print("FACTS " + json.dumps({
    "debug": settings.DEBUG,
    "status": page.status_code,
    "body": page.content.decode(errors="replace"),
    "serve_media": settings.SERVE_MEDIA,
}))
"""


def facts_of(result: subprocess.CompletedProcess[str]) -> tuple[dict, list[str]]:
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("FACTS "))
    return json.loads(line.removeprefix("FACTS ")), result.stderr.splitlines()


@pytest.fixture(scope="module", autouse=True)
def runs(tmp_path_factory) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """The slow subprocesses of this module, started together before its first test."""
    media = tmp_path_factory.mktemp("media")
    (media / "probe.txt").write_text("crop")
    started = {
        "deploy_check": start("check", "--deploy", "--fail-level", "WARNING", env=production_env()),
        # Nothing but a secret key: DEBUG unset must mean a production-safe configuration.
        "deploy_check_debug_unset": start(
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            env={"SECRET_KEY": secrets.token_urlsafe(50)},
            drop=("DEBUG",),
        ),
        "debug_unset": start(
            "shell", "-c", DEBUG_PROBE, env={"SECRET_KEY": secrets.token_urlsafe(50)}, drop=("DEBUG",)
        ),
        "gcs": start(
            "shell",
            "-c",
            PROBE,
            env=production_env(GS_BUCKET_NAME="visualsearch-test-media", CACHE_URL="redis://127.0.0.1:6379/1"),
        ),
        "volume": start(
            "shell", "-c", PROBE, env=production_env(GS_BUCKET_NAME="", MEDIA_ROOT=str(media), SERVE_MEDIA="true")
        ),
    }
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture(scope="module")
def gcs_deployment(runs) -> tuple[dict, list[str]]:
    return facts_of(finish(runs["gcs"]))


@pytest.fixture(scope="module")
def volume_deployment(runs) -> dict:
    return facts_of(finish(runs["volume"]))[0]


def test_check_deploy_passes_with_env_example_once_the_secret_is_filled_in(runs):
    result = finish(runs["deploy_check"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_media_goes_to_google_cloud_storage_when_a_bucket_is_set(gcs_deployment):
    facts, _ = gcs_deployment
    assert facts["storage"] == "storages.backends.gcloud.GoogleCloudStorage"
    assert facts["bucket"] == "visualsearch-test-media"
    # Files live in the bucket, so Django never serves MEDIA_URL itself.
    assert facts["media"] == 404 and facts["media_view"] is None
    # Index files too, under a private prefix (never the public media's location).
    assert facts["index_storage"] == "storages.backends.gcloud.GoogleCloudStorage"
    assert facts["index_location"] == "private"


def test_media_is_served_from_the_volume_when_asked_and_there_is_no_bucket(volume_deployment):
    assert volume_deployment["storage"] == "django.core.files.storage.filesystem.FileSystemStorage"
    assert volume_deployment["media_view"] == "serve_media"
    # A stray file under MEDIA_ROOT (not a photo, not a crop) is never served.
    assert volume_deployment["media"] == 404
    assert volume_deployment["index_storage"] == "visualsearch.storage.IndexFileStorage"


def test_cache_is_redis_when_cache_url_is_set_and_local_memory_otherwise(gcs_deployment, volume_deployment):
    assert gcs_deployment[0]["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert volume_deployment["cache"] == "django.core.cache.backends.locmem.LocMemCache"


def test_plain_http_redirects_to_https_but_the_proxy_header_and_healthz_do_not(gcs_deployment):
    facts, _ = gcs_deployment
    assert facts["plain_http"] == 301
    assert facts["plain_http_location"] == "https://localhost/admin/login/"
    assert facts["forwarded_https"] == 200
    # Load balancers and the compose healthcheck probe over plain http: answered, not
    # redirected (503 would only mean the development database here is not migrated).
    assert facts["healthz_plain_http"] in {200, 503}


def test_log_format_json_writes_one_json_object_per_line(gcs_deployment):
    _, stderr_lines = gcs_deployment
    records = [json.loads(line) for line in stderr_lines if line.startswith("{")]
    ours = next(r for r in records if r["logger"] == "visualsearch.deploytest")
    assert ours["message"] == "hello world"
    assert ours["level"] == "WARNING"
    assert ours["crop_id"] == 7
    assert "time" in ours


def test_check_deploy_passes_with_debug_unset_and_only_a_secret_key(runs):
    result = finish(runs["deploy_check_debug_unset"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "System check identified no issues" in result.stdout


def test_debug_is_off_when_unset_and_errors_show_no_debug_page(runs):
    facts, _ = facts_of(finish(runs["debug_unset"]))
    assert facts["debug"] is False
    assert facts["serve_media"] is False
    assert facts["status"] == 404
    # Django's technical 404 page lists the URL patterns and settings; production shows neither.
    assert "URLconf" not in facts["body"] and "DATABASE" not in facts["body"]
