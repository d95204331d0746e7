"""The MLflow UI command serves the project's own store."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from mlops.tracking import get_or_create_experiment, mlflow_server_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_mlflow_ui_serves_the_local_store(settings: object, tmp_path: Path) -> None:
    settings.MLFLOW_TRACKING_URI = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    settings.MLFLOW_EXPERIMENT_ID = ""
    get_or_create_experiment("ui-visible")
    port = free_port()
    command = mlflow_server_command(port=port)
    assert command[command.index("--artifacts-destination") + 1] == str(tmp_path / "mlflow" / "artifacts")

    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                experiments = get_json(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=10")
                break
            except OSError:
                assert server.poll() is None, "mlflow server exited"
                assert time.monotonic() < deadline, "mlflow server did not answer in time"
                time.sleep(0.5)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the workers it started
        server.wait(timeout=30)
    assert "ui-visible" in {e["name"] for e in experiments["experiments"]}
