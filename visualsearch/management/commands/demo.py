"""The README's demo: database, migrations, an admin login, then serve the site."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Prepare the embedded database and serve the site (see README: make demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--no-serve", action="store_true", help="Prepare everything, then exit.")

    def handle(self, *args, host: str, port: str, no_serve: bool, **options) -> None:
        self.stdout.write(
            f"Database: {settings.DATABASES['default']['NAME']} on {settings.DATABASES['default']['HOST']}"
        )
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Migrations applied.")
        username, password = ensure_demo_admin()
        if no_serve:
            return
        self.stdout.write(self.style.SUCCESS(f"VisualSearch is at http://{host}:{port}/"))
        self.stdout.write(f"Admin: http://{host}:{port}/admin/  login {username} / {password}")
        call_command("runserver", f"{host}:{port}", use_reloader=False)


def ensure_demo_admin() -> tuple[str, str]:
    """Create the demo superuser once; its password is kept under var/ so reruns print it."""
    username = settings.DEMO_ADMIN_USERNAME
    password_file = settings.VAR_DIR / "demo-admin-password"
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists() and password_file.exists():
        return username, password_file.read_text().strip()
    password = settings.DEMO_ADMIN_PASSWORD or secrets.token_urlsafe(12)
    user = user_model.objects.filter(username=username).first() or user_model(username=username)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    password_file.parent.mkdir(parents=True, exist_ok=True)
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    return username, password
