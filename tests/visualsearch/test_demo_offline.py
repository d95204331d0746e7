"""A first `manage.py demo` on a machine without internet and without local weights.

It must stop within seconds, not after yolov5's minutes of download retries, with one
sentence naming the settings that avoid the download. The demo runs in a network
namespace of its own (``unshare -n``), with its own var/ (database, model cache).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.deploy.servers import stop_embedded_db

ROOT = Path(__file__).resolve().parents[2]
# What a new user has: none of the README's offline variables.
OFFLINE_VARIABLES = ("DETECTOR_WEIGHTS", "CLIP_MODEL", "DEMO_TEST_CLIP", "DEMO_IMAGES", "DEBUG", "DATABASE_URL")


def test_demo_without_network_or_local_weights_stops_in_seconds_with_the_fix(tmp_path: Path):
    unshare = shutil.which("unshare")
    assert unshare, "the unshare command (util-linux) is needed to cut the demo off the network"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in OFFLINE_VARIABLES and not key.lower().endswith("_proxy")
    }
    env |= {"VISUALSEARCH_VAR_DIR": str(tmp_path / "var"), "HF_HOME": str(tmp_path / "hf")}
    started = time.monotonic()
    try:
        result = subprocess.run(
            [unshare, "--net", sys.executable, "manage.py", "demo", "--no-serve"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        elapsed = time.monotonic() - started
    finally:
        stop_embedded_db(env)
    assert result.returncode != 0
    assert elapsed < 30, f"took {elapsed:.0f} s:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("CommandError: Cannot download the detector weights 'yolov5s.pt': github.com")
    for setting in ("DETECTOR_WEIGHTS", "CLIP_MODEL", "DEMO_IMAGES", "README: 'Offline'"):
        assert setting in last_line
    # Each phase is named with its time, so a user sees where it stopped.
    assert "[demo] database: done in" in result.stdout
    assert "[demo] models: starting" in result.stdout
    assert "[demo] dataset" not in result.stdout
