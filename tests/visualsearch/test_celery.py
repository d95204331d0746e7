"""The Celery app: workers log through Django's LOGGING, not Celery's own format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What a worker does at start-up (celery/app/log.py), then one record from a worker's logger.
WORKER_START = """
import logging
import django
django.setup()
from visualsearch.celery import app
app.log.setup_logging_subsystem(loglevel="INFO")
logging.getLogger("celery.worker").info("worker ready")
"""


def test_a_worker_logs_json_lines_with_log_format_json():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "visualsearch.settings", "LOG_FORMAT": "json"}
    result = subprocess.run(
        [sys.executable, "-c", WORKER_START], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stderr.splitlines() if "worker ready" in line)
    record = json.loads(line)
    assert record["logger"] == "celery.worker" and record["level"] == "INFO"
