"""docker-compose.yml and docker-compose.cpu.yml: consistent, complete, ordered.

Docker cannot run here, so these check what `docker compose config` and `up`
would trip over: dangling references, undeclared volumes, variables nobody
documents, services without an image or command, and the GPU reservation.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from typing import Any

import pytest

from tests.deploy.compose import (
    COMPOSE,
    COMPOSE_CPU,
    ROOT,
    Reset,
    env_example_names,
    interpolated_names,
    load,
    merge,
)

APP_SERVICES = ("migrate", "web", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def cpu_services(compose: dict[str, Any]) -> dict[str, Any]:
    return merge(compose, load(COMPOSE_CPU))["services"]


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_the_stack_has_every_service_the_product_needs(services):
    assert {"db", "redis", "web", "worker", "mlflow"} <= set(services)
    assert services["db"]["image"] == "pgvector/pgvector:pg16"


def test_every_service_has_an_image_and_the_app_services_a_command(services):
    for name, service in services.items():
        assert service.get("image"), f"service {name} has no image"
    for name in (*APP_SERVICES, "mlflow"):
        assert command_text(services[name]), f"service {name} has no command"


def test_web_serves_the_wsgi_app_with_gunicorn_after_migrations(services):
    args = shlex.split(command_text(services["web"]))
    assert args[0] == "gunicorn" and args[-1] == "visualsearch.wsgi:application"
    assert "manage.py migrate" in command_text(services["migrate"])
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_worker_consumes_the_gpu_and_default_queues(services):
    args = shlex.split(command_text(services["worker"]))
    assert args[:3] == ["celery", "--app=visualsearch", "worker"]
    assert "--queues=gpu,default" in args


def test_depends_on_names_existing_services_with_a_condition(services):
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert spec["condition"] in {"service_healthy", "service_completed_successfully"}
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s missing healthcheck"


def test_start_order_has_no_cycles(services):
    done: set[str] = set()
    remaining = dict(services)
    while remaining:
        ready = [n for n, s in remaining.items() if set(s.get("depends_on", {})) <= done]
        assert ready, f"depends_on cycle among {sorted(remaining)}"
        done.update(ready)
        for name in ready:
            del remaining[name]


def test_long_running_services_have_healthchecks(services):
    for name in ("db", "redis", "web", "worker", "mlflow"):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"


def named_volumes(service: dict[str, Any]) -> set[str]:
    """Volume sources that are names, not host paths (./x, /x)."""
    names = set()
    for volume in service.get("volumes", []):
        source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
        if source and not source.startswith((".", "/", "~", "$")):
            names.add(source)
    return names


def test_every_named_volume_is_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        missing = named_volumes(service) - declared
        assert not missing, f"service {name} uses undeclared volumes {missing}"


def test_data_lives_in_named_volumes(services):
    assert "pgdata" in named_volumes(services["db"])
    for name in ("web", "worker"):
        assert {"media", "models"} <= named_volumes(services[name]), name
        assert services[name]["environment"]["MODEL_CACHE_DIR"] == "/models"


def test_the_mlflow_database_is_created_by_an_init_script(services):
    init_mount = next(v for v in services["db"]["volumes"] if "docker-entrypoint-initdb.d" in v)
    init_dir = ROOT / init_mount.split(":", 1)[0]
    scripts = " ".join(p.read_text() for p in init_dir.glob("*.sql"))
    assert re.search(r"CREATE DATABASE mlflow\b", scripts)
    backend = next(arg for arg in services["mlflow"]["command"] if arg.startswith("--backend-store-uri="))
    assert re.fullmatch(r"--backend-store-uri=postgresql\+psycopg://.+@db:5432/mlflow", backend)


def test_every_interpolated_variable_is_documented_in_env_example():
    documented = set(env_example_names())
    for path in (COMPOSE, COMPOSE_CPU):
        missing = interpolated_names(path) - documented
        assert not missing, f"{path.name} interpolates {sorted(missing)}, missing from .env.example"


def test_secrets_must_be_set_before_compose_starts():
    text = COMPOSE.read_text()
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        assert re.search(rf"\$\{{{name}:\?", text), f"{name} should be required with ${{{name}:?...}}"


def test_worker_reserves_an_nvidia_gpu(services):
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert services["worker"]["build"]["args"]["FLAVOR"] == "cuda"


def test_cpu_override_removes_the_gpu_reservation_and_uses_the_cpu_image(cpu_services):
    worker = cpu_services["worker"]
    assert "deploy" not in worker
    assert worker["build"]["args"]["FLAVOR"] == "cpu"
    assert worker["image"].endswith(":cpu")
    assert worker["environment"]["MODEL_DEVICE"] == "cpu"
    # The override changes the worker only; the rest of its definition is kept.
    assert "--queues=gpu,default" in command_text(worker)
    assert worker["depends_on"]


def test_cpu_override_uses_compose_reset_not_an_empty_mapping():
    # A plain `deploy: {}` merges into (and keeps) the GPU reservation; only !reset drops it.
    assert isinstance(load(COMPOSE_CPU)["services"]["worker"]["deploy"], Reset)


def test_dockerfile_builds_cpu_and_cuda_flavours_as_non_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG FLAVOR=cpu$", dockerfile, re.M)
    assert re.search(r"^FROM base-\$\{FLAVOR\}", dockerfile, re.M)
    assert {"base-cpu", "base-cuda"} <= set(re.findall(r"^FROM \S+ AS (\S+)", dockerfile, re.M))
    assert "requirements/base.txt" in dockerfile and "requirements/gpu.txt" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv", "var"} <= set(ignored)


def test_mlflow_backend_uri_works_with_the_installed_driver(tmp_path, django_db_blocker):
    """The compose backend URI (postgresql+psycopg) runs against a database made by the init script."""
    import psycopg
    from django.db import connection
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    init_sql = (ROOT / "docker" / "db" / "10-create-mlflow-database.sql").read_text()
    with django_db_blocker.unblock():
        params = connection.get_connection_params()
    db_name = "mlflow_compose_test"
    admin = psycopg.connect(
        dbname=params["dbname"],
        user=params.get("user"),
        host=params.get("host"),
        port=params.get("port"),
        autocommit=True,
    )
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {db_name}")
        admin.execute(init_sql.replace("CREATE DATABASE mlflow;", f"CREATE DATABASE {db_name};"))
        try:
            host = params["host"]
            uri = f"postgresql+psycopg://{params.get('user')}@/{db_name}?host={host}&port={params.get('port', 5432)}"
            store = SqlAlchemyStore(uri, str(tmp_path / "artifacts"))
            try:
                assert [e.name for e in store.search_experiments()] == ["Default"]
            finally:
                store.engine.dispose()
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


def test_web_is_served_with_the_gunicorn_config_file_in_compose_and_the_image(services):
    """One place for workers, threads and slow-client timeouts: the file both start gunicorn with."""
    args = shlex.split(command_text(services["web"]))
    assert "--config=docker/gunicorn.conf.py" in args
    assert (ROOT / "docker" / "gunicorn.conf.py").is_file()
    cmd = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert json.loads(cmd) == args
    # No command-line flag overrides what the file says.
    assert not [arg for arg in args if arg.startswith(("--workers", "--timeout", "--bind", "-w", "-k"))]


def published_ports(service: dict[str, Any]) -> list[str]:
    return [
        str(p) if not isinstance(p, dict) else f"{p.get('host_ip', '')}:{p['published']}"
        for p in service.get("ports", [])
    ]


def test_only_nginx_is_published_beyond_loopback(services):
    public = {
        name
        for name, service in services.items()
        for port in published_ports(service)
        if not port.startswith("127.0.0.1:")
    }
    assert public == {"nginx"}
    assert not services["web"].get("ports") and "8000" in [str(p) for p in services["web"]["expose"]]


def test_nginx_proxies_to_web_with_its_config_and_upload_limit(services):
    nginx = services["nginx"]
    assert nginx["image"].startswith("nginx:")
    assert nginx["environment"]["NGINX_UPSTREAM"] == "web:8000"
    assert nginx["environment"]["MAX_UPLOAD_BYTES"] == "${MAX_UPLOAD_BYTES:-20971520}"
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"
    mounts = {v.split(":")[1]: ROOT / v.split(":")[0] for v in nginx["volumes"]}
    assert (mounts["/etc/nginx/templates"] / "default.conf.template").is_file()
    envsh = mounts["/docker-entrypoint.d/15-visualsearch-limits.envsh"]
    # The image sources *.envsh scripts only when they are executable.
    assert envsh.is_file() and os.access(envsh, os.X_OK)
    template = (mounts["/etc/nginx/templates"] / "default.conf.template").read_text()
    filled = set(re.findall(r"\$\{(\w+)\}", template))
    assert filled and all(re.match(nginx["environment"]["NGINX_ENVSUBST_FILTER"], name) for name in filled)


def test_web_trusts_exactly_the_one_proxy_in_front_of_it(services):
    environment = services["web"]["environment"]
    assert environment["BEHIND_PROXY"] == "true"
    assert environment["TRUSTED_PROXY_COUNT"] == "1"
    # Still the shared app environment underneath (database, broker, secret key).
    assert {"DATABASE_URL", "SECRET_KEY", "CELERY_BROKER_URL"} <= set(environment)
