"""The README's demo command, offline, in a clean clone: serves, searches, reruns on the same data.

Runs `make demo` as a user would (with the README's offline variables), twice:
the first run indexes a COCO128 sample, the second reuses the database and adds nothing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from uuid import uuid4

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "visualsearch"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(path)], check=True)
    yield path
    subprocess.run(
        ["make", "stop-db", f"VENV={Path(sys.executable).parent.parent}"], cwd=path, capture_output=True, timeout=120
    )


def demo_env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_BROKER", "DJANGO_"))}
    assets = Path(settings.SHARED_ASSETS_DIR).resolve()
    return {
        **env,
        "SHARED_ASSETS_DIR": str(assets),
        "DETECTOR_WEIGHTS": str(assets / "weights" / "yolov5n.pt"),
        "DEMO_TEST_CLIP": "true",
        "DEMO_MAX_IMAGES": "16",
        "DEMO_ADMIN_PASSWORD": "demo-" + uuid4().hex[:8],
        "PYTHONUNBUFFERED": "1",
    }


class Demo:
    def __init__(self, clone: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        venv = Path(sys.executable).parent.parent
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                ["make", "demo", f"PORT={self.port}", f"VENV={venv}"],
                cwd=clone,
                env=demo_env(self.port),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"make demo exited with {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(1)
        raise AssertionError(f"the demo did not serve within {START_TIMEOUT_S} s:\n{self.output()}")

    def stop(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C, as a user stops it
        code = self.process.wait(timeout=60)
        self.assert_nothing_left()
        return code

    def assert_nothing_left(self) -> None:
        """Ctrl-C stops every process the demo started (gunicorn's master and workers), and frees the port."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"processes of the demo outlived Ctrl-C:\n{self.output()}")
        with socket.socket() as sock:
            # Connections the server closed linger in TIME_WAIT; only a listener makes this bind fail.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.status, response.read()


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def post_image(url: str, path: Path) -> dict:
    boundary = uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{path.name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(url, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def test_demo_serves_searches_and_reuses_its_database(clone, tmp_path, coco_subset_files):
    first = Demo(clone, tmp_path / "demo-1.log")
    try:
        first.wait_until_serving()
        status, home = get(first.url + "/")
        assert status == 200 and b"Find objects in photos" in home
        found = post_image(first.url + "/api/search/image", coco_subset_files[0])
        assert found["objects"] and found["objects"][0]["results"]
        texts = post_json(first.url + "/api/search/text", {"query": "a person", "k": 3})
        assert texts["count"] == 3
        status, _ = get(first.url + "/admin/login/")
        assert status == 200
        datasets = json.loads(get(first.url + "/api/datasets")[1])
    finally:
        first.stop()
    output = first.output()
    assert "VisualSearch is at" in output and "login admin /" in output
    # Served by gunicorn, 2 workers, and stopped cleanly by Ctrl-C.
    assert "Starting gunicorn" in output and output.count("Booting worker") >= 2
    assert "[demo] serving: stopped" in output and "Traceback" not in output
    assert "Index build" in output

    second = Demo(clone, tmp_path / "demo-2.log")
    try:
        second.wait_until_serving()
        assert json.loads(get(second.url + "/api/datasets")[1]) == datasets
    finally:
        assert second.stop() in (0, 2, -signal.SIGINT)
    assert "Nothing new to index" in second.output()
