"""Real gunicorn and nginx on loopback for the deployment tests: started, waited for, always stopped."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.deploy.compose import ROOT

GUNICORN_CONFIG = ROOT / "docker" / "gunicorn.conf.py"
NGINX_TEMPLATE = ROOT / "docker" / "nginx" / "templates" / "default.conf.template"
NGINX_ENVSH = ROOT / "docker" / "nginx" / "15-visualsearch-limits.envsh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 10.0, **headers: str) -> tuple[int, bytes]:
    """Status and body, also for 4xx/5xx answers."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until_answering(url: str, process: subprocess.Popen, log: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[:4]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            get(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {deadline_s} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (gunicorn's workers, nginx's), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def gunicorn(app: str, env: dict[str, str], log: Path, probe: str = "/healthz", workers: int = 1) -> Iterator[str]:
    """gunicorn with docker/gunicorn.conf.py on a free loopback port; yields its base URL."""
    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", f"--config={GUNICORN_CONFIG}", app],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(url + probe, process, log, deadline_s=180)
        yield url
    finally:
        stop(process)


def nginx_envsh(max_upload_bytes: int, trust_forwarded_proto: bool = False) -> dict[str, str]:
    """What the nginx image's entrypoint computes: the .envsh sourced by a POSIX shell."""
    names = ("NGINX_CLIENT_MAX_BODY_SIZE", "NGINX_FORWARDED_PROTO")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MAX_UPLOAD_BYTES": str(max_upload_bytes)}
    if trust_forwarded_proto:
        env["NGINX_TRUST_FORWARDED_PROTO"] = "true"
    result = subprocess.run(
        ["sh", "-c", f'. "{NGINX_ENVSH}" && printf "%s\\n" ' + " ".join(f'"${name}"' for name in names)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(zip(names, result.stdout.splitlines(), strict=True))


def nginx_body_limit(max_upload_bytes: int) -> str:
    return nginx_envsh(max_upload_bytes)["NGINX_CLIENT_MAX_BODY_SIZE"]


def render_nginx(
    folder: Path, upstream: str, port: int, max_upload_bytes: int, trust_forwarded_proto: bool = False
) -> Path:
    """The template as the nginx image renders it, inside a main config that runs unprivileged on loopback."""
    values = {"NGINX_UPSTREAM": upstream, **nginx_envsh(max_upload_bytes, trust_forwarded_proto)}
    text = NGINX_TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert not re.search(r"\$\{NGINX_[A-Z_]+\}", text), "a template variable was left unfilled"
    # The container listens on port 80; here, a free loopback port.
    assert "listen 80 default_server;" in text
    (folder / "default.conf").write_text(text.replace("listen 80 default_server;", f"listen 127.0.0.1:{port};"))
    temp = "\n".join(
        f"  {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = folder / "nginx.conf"
    main.write_text(
        f"""{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
daemon off;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 512; }}
http {{
  access_log {folder / "access.log"};
{temp}
  include {folder / "default.conf"};
}}
"""
    )
    return main


def nginx_command(config: Path) -> list[str]:
    return ["nginx", "-p", str(config.parent), "-e", str(config.parent / "error.log"), "-c", str(config)]


@contextmanager
def nginx(folder: Path, upstream: str, max_upload_bytes: int, trust_forwarded_proto: bool = False) -> Iterator[str]:
    """Debian's nginx with the compose config in front of ``upstream`` (host:port); yields its base URL."""
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)
    port = free_port()
    config = render_nginx(folder, upstream, port, max_upload_bytes, trust_forwarded_proto)
    log = folder / "nginx.out"
    with open(log, "wb") as out:
        process = subprocess.Popen(nginx_command(config), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(url + "/healthz", process, log, deadline_s=30)
        yield url
    finally:
        stop(process)


# What a slow client sends before it stops: headers that never end, or a body that never comes.
PARTIAL_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Waiting: "
PARTIAL_BODY = b"POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nab"


@contextmanager
def slow_clients(url: str, heads: list[bytes], settle_s: float = 0.5) -> Iterator[None]:
    """One connection per entry of ``heads``, each sending it and then nothing, held open meanwhile."""
    host, port = url.removeprefix("http://").split(":")
    held = []
    try:
        for head in heads:
            client = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(head)
            held.append(client)
        time.sleep(settle_s)  # the server has taken them in
        yield
    finally:
        for client in held:
            client.close()


def timed_get(url: str, timeout: float) -> tuple[int | None, float]:
    """(status or None when it timed out, seconds taken)."""
    started = time.monotonic()
    try:
        status, _ = get(url, timeout=timeout)
    except TimeoutError:
        status = None
    return status, time.monotonic() - started


def stop_embedded_db(env: dict[str, str]) -> None:
    """Stop the embedded PostgreSQL a subprocess started under its own VISUALSEARCH_VAR_DIR."""
    subprocess.run(
        [sys.executable, "manage.py", "embedded_db", "stop"],
        cwd=ROOT,
        env={**env, "DEBUG": "true"},
        capture_output=True,
        timeout=120,
    )
