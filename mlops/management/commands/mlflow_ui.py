"""Serve the MLflow UI over the project's tracking store."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mlops.tracking import mlflow_server_command, tracking_uri


class Command(BaseCommand):
    help = "Run `mlflow server` (the MLflow UI) on the local store under var/mlflow or MLFLOW_TRACKING_URI."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=5000)
        parser.add_argument("--workers", type=int, default=1, help="Server worker processes")
        parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to listen on all interfaces")

    def handle(self, *args: Any, **opts: Any) -> None:
        command = mlflow_server_command(opts["host"], opts["port"], opts["workers"])
        self.stdout.write(f"MLflow UI on http://{opts['host']}:{opts['port']} over {tracking_uri()}")
        # Run in the foreground until Ctrl-C; the server's exit status becomes ours.
        try:
            raise SystemExit(subprocess.call(command, env=os.environ.copy()))
        except KeyboardInterrupt:
            self.stdout.write("MLflow UI stopped")
