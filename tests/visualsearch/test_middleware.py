"""Without internet and without local models, search answers 503 with the fix, in seconds.

Each case runs manage.py in a network namespace of its own (``unshare -n``: no
interface but a down loopback), as on an air-gapped machine. The embedded
PostgreSQL is reached through its Unix socket, which needs no network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, time
from django.test import Client
from PIL import Image
import io

client = Client()
photo = io.BytesIO()
Image.new("RGB", (64, 48), (200, 30, 30)).save(photo, format="JPEG")
calls = {
    "api_text": lambda: client.post("/api/search/text", {"query": "a red car"}, content_type="application/json"),
    "api_text_again": lambda: client.post("/api/search/text", {"query": "a red car"}, content_type="application/json"),
    "api_image": lambda: client.post("/api/search/image", {"image": io.BytesIO(photo.getvalue())}),
    "page_text": lambda: client.get("/search", {"q": "a red car"}),
}
facts = {}
for name, call in calls.items():
    started = time.monotonic()
    response = call()
    facts[name] = {
        "status": response.status_code,
        "seconds": time.monotonic() - started,
        "type": response["Content-Type"],
        "body": response.content.decode(errors="replace"),
    }
print("FACTS " + json.dumps(facts))
"""


def offline_env(tmp_path: Path) -> dict[str, str]:
    """No local weights anywhere: official names and hub ids, empty caches."""
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    return {
        **env,
        "DEBUG": "true",
        "DETECTOR_WEIGHTS": "yolov5s.pt",
        "CLIP_MODEL": "openai/clip-vit-base-patch32",
        "MODEL_CACHE_DIR": str(tmp_path / "models"),
        "HF_HOME": str(tmp_path / "hf"),
        "CELERY_BROKER_URL": "",
    }


def run_without_network(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    unshare = shutil.which("unshare")
    assert unshare, "the unshare command (util-linux) is needed to cut this process off the network"
    return subprocess.run([unshare, "--net", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def offline_facts(tmp_path_factory) -> dict:
    tmp_path = tmp_path_factory.mktemp("offline")
    result = run_without_network(
        [sys.executable, "manage.py", "shell", "-c", PROBE], offline_env(tmp_path), timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("FACTS "))
    return json.loads(line.removeprefix("FACTS "))


@pytest.mark.parametrize("call", ["api_text", "api_image"])
def test_an_api_search_without_loadable_models_is_a_503_json_error_in_seconds(offline_facts, call):
    fact = offline_facts[call]
    assert fact["status"] == 503
    assert fact["type"] == "application/json"
    error = json.loads(fact["body"])["error"]
    assert error.startswith("Search is unavailable: Cannot download the ")
    assert "is unreachable" in error
    for setting in ("DETECTOR_WEIGHTS", "CLIP_MODEL", "DEMO_IMAGES"):
        assert setting in error
    # The first call imports transformers; none waits in download retries.
    assert fact["seconds"] < 15


def test_later_requests_fail_in_milliseconds_not_after_another_timeout(offline_facts):
    assert offline_facts["api_text_again"]["status"] == 503
    assert offline_facts["api_text_again"]["seconds"] < 0.5


def test_the_search_page_says_the_same_with_a_503(offline_facts):
    fact = offline_facts["page_text"]
    assert fact["status"] == 503
    assert fact["type"].startswith("text/html")
    assert "Search is unavailable" in fact["body"] and "CLIP_MODEL" in fact["body"]
