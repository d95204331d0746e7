"""Inspect or stop the embedded PostgreSQL that runs when DATABASE_URL is unset."""

from __future__ import annotations

import subprocess

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Show the embedded PostgreSQL's URL, or stop it (it otherwise keeps running between commands)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["url", "stop"])

    def handle(self, *args, action: str, **options) -> None:
        data_dir = settings.VAR_DIR / "pgdata"
        if settings.DATABASES["default"].get("HOST", "") and not str(settings.DATABASES["default"]["HOST"]).startswith(
            "/"
        ):
            raise CommandError("DATABASE_URL points at an external server; there is no embedded database to manage.")
        if action == "url":
            import pgserver

            self.stdout.write(pgserver.get_server(data_dir, cleanup_mode=None).get_uri())
            return
        from pgserver import _commands

        try:
            _commands.pg_ctl(["-w", "stop"], pgdata=data_dir, user="pgserver" if _is_root() else None)
        except subprocess.CalledProcessError as exc:
            raise CommandError(f"Could not stop the embedded PostgreSQL in {data_dir}: {exc}") from exc
        self.stdout.write(f"Stopped the embedded PostgreSQL in {data_dir}.")


def _is_root() -> bool:
    import os

    return os.geteuid() == 0
