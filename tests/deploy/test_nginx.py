"""docker/nginx: the config nginx renders parses, and nginx in front of gunicorn buffers slow clients,
sets the forwarded headers itself and refuses oversized bodies. Real nginx and gunicorn on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.deploy.servers import (
    PARTIAL_BODY,
    PARTIAL_HEADERS,
    free_port,
    get,
    gunicorn,
    nginx,
    nginx_body_limit,
    nginx_command,
    render_nginx,
    slow_clients,
    timed_get,
)


@pytest.fixture(autouse=True, scope="module")
def nginx_installed() -> None:
    # A failure, not a skip: `make test` installs it, and a skipped test proves nothing.
    assert shutil.which("nginx"), "nginx is not installed: `make test` installs Debian's nginx-light"


MAX_UPLOAD_BYTES = 200_000
SLOW_CLIENTS = 24  # three times the threads of the one gunicorn worker behind nginx


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("nginx")
    path.chmod(0o755)  # nginx's worker process reads its temporary files here
    return path


def test_the_body_limit_is_max_upload_bytes_plus_the_multipart_envelope():
    assert nginx_body_limit(20_971_520) == str(20_971_520 + 1_048_576)


def test_the_rendered_config_passes_nginx_t(folder):
    check = folder / "check"
    check.mkdir()
    config = render_nginx(check, "127.0.0.1:8000", free_port(), MAX_UPLOAD_BYTES)
    result = subprocess.run([*nginx_command(config), "-t"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.fixture(scope="module")
def upstream(folder):
    """The echo app under gunicorn (our config file, one worker); yields its host:port."""
    env = {**os.environ, "GUNICORN_THREADS": str(SLOW_CLIENTS // 3)}
    with gunicorn("tests.deploy.echo_app:app", env, folder / "gunicorn.log", probe="/") as url:
        yield url.removeprefix("http://")


@pytest.fixture(scope="module")
def proxy(folder, upstream):
    """nginx with the compose config in front of the echo app; yields nginx's URL."""
    with nginx(folder, upstream, MAX_UPLOAD_BYTES) as url:
        yield url


def test_forwarded_headers_are_set_by_nginx_not_passed_through(proxy):
    status, body = get(
        proxy + "/healthz", **{"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil.example", "Host": "site.example"}
    )
    seen = json.loads(body)
    assert status == 200 and seen["path"] == "/healthz" and seen["host"] == "site.example"
    # The real client is appended last: what TRUSTED_PROXY_COUNT=1 reads; the forged entry stays in front.
    assert seen["x_forwarded_for"] == "6.6.6.6, 127.0.0.1"
    assert seen["x_forwarded_proto"] == "http" and seen["x_forwarded_host"] is None
    # A load balancer in front that terminated TLS says https, and is believed.
    # A client claiming https itself is not believed: Django sees the scheme of the connection.
    assert json.loads(get(proxy + "/", **{"X-Forwarded-Proto": "https"})[1])["x_forwarded_proto"] == "http"


def test_a_load_balancers_https_is_believed_only_when_asked_for(folder, upstream):
    # NGINX_TRUST_FORWARDED_PROTO=true: a TLS-terminating load balancer in front always sets it.
    with nginx(folder / "trusting", upstream, MAX_UPLOAD_BYTES, trust_forwarded_proto=True) as url:
        assert json.loads(get(url + "/", **{"X-Forwarded-Proto": "https"})[1])["x_forwarded_proto"] == "https"
        assert json.loads(get(url + "/")[1])["x_forwarded_proto"] == "http"


def post(url: str, size: int) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=b"x" * size, headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_bodies_over_the_upload_limit_are_refused_by_nginx(proxy):
    status, body = post(proxy + "/api/search/image", MAX_UPLOAD_BYTES)
    assert status == 200 and json.loads(body)["body_bytes"] == MAX_UPLOAD_BYTES
    status, body = post(proxy + "/api/search/image", MAX_UPLOAD_BYTES + 1_048_576 + 1)
    assert status == 413 and b"nginx" in body  # answered by nginx; the app never saw it


def test_many_slow_clients_do_not_stall_healthz_behind_nginx(proxy):
    """More stalled requests than gunicorn has threads: half never finish their headers, half their body."""
    heads = [PARTIAL_HEADERS if index % 2 else PARTIAL_BODY for index in range(SLOW_CLIENTS)]
    with slow_clients(proxy, heads):
        status, elapsed = timed_get(proxy + "/healthz", timeout=10)
    assert elapsed < 1.0, f"/healthz took {elapsed:.1f} s behind {len(heads)} slow clients"
    assert status == 200
