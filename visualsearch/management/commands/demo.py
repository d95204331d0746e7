"""The README's demo: database, migrations, admin login, a sample dataset indexed, the site served.

Online, the official weights download on first use. Offline (our CI machines), the
README's environment variables point at ../shared/assets and a test CLIP.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.catalog.datasets import extract_coco_subset
from indexing.catalog.sources import DatasetError, DownloadSourceUnreachable, fetch_verified_file
from indexing.vision.detector import get_detector
from indexing.vision.embedder import get_embedder, reset_embedder
from indexing.vision.errors import ModelLoadError
from visualsearch.celery import app as celery_app

DEMO_DATASET_DIR = Path("datasets/coco_subset/demo")
# Seconds gunicorn gets to stop its workers after Ctrl-C before it is killed.
STOP_TIMEOUT_S = 20
# COCO's bucket over https (images.cocodataset.org itself serves only plain http), and the
# archive's sha256 (252,907,541 bytes; COCO publishes none, this is the one recorded for it
# by independent mirrors and dataset tools): nothing unchecked is ever unzipped.
COCO_ANNOTATIONS_URL = "https://s3.amazonaws.com/images.cocodataset.org/annotations/annotations_trainval2017.zip"
COCO_ANNOTATIONS_SHA256 = "113a836d90195ee1f884e704da6304dfaaecff1f023f49b6ca93c4aaae470268"


class Command(BaseCommand):
    help = "Prepare the database, index a sample dataset and serve the site (see README: make demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--no-serve", action="store_true", help="Prepare and index, then exit.")

    def handle(self, *args, host: str, port: str, no_serve: bool, **options) -> None:
        with self.phase("database"):
            where = settings.EMBEDDED_DATABASE_DIR or "DATABASE_URL"
            self.stdout.write(f"Database: PostgreSQL + pgvector ({where})")
            call_command("migrate", interactive=False, verbosity=0)
            self.stdout.write("Migrations applied.")
            username, password = ensure_demo_admin()
        if not settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
            run_tasks_in_process(self.stdout)
        with self.phase("models"):
            # Before any data work: without internet or local weights, stop here in seconds.
            if settings.DEMO_TEST_CLIP:
                use_test_clip(self.stdout)
            load_models(self.stdout)
        with self.phase("dataset"):
            dataset_path = self.sample_dataset()
        if dataset_path is not None:
            with self.phase("indexing"):
                call_command("embed_and_index", dataset_path=dataset_path, split="all", stdout=self.stdout)
        if no_serve:
            return
        self.stdout.write("[demo] serving: starting")
        self.stdout.write(self.style.SUCCESS(f"VisualSearch is at http://{host}:{port}/"))
        self.stdout.write(f"Admin: http://{host}:{port}/admin/  login {username} / {password}")
        serve(host, port, self.stdout)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Print each phase's time, so a slow step shows; a model that cannot load ends the demo in one sentence."""
        started = time.perf_counter()
        self.stdout.write(f"[demo] {name}: starting")
        try:
            yield
        except (ModelLoadError, DatasetError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"[demo] {name}: done in {time.perf_counter() - started:.1f} s")

    def sample_dataset(self) -> Path | None:
        """A folder to index: DEMO_IMAGES, or a COCO subset extracted once from DEMO_COCO_ANNOTATIONS."""
        if settings.DEMO_IMAGES:
            path = Path(settings.DEMO_IMAGES)
            if not path.is_dir():
                raise CommandError(f"DEMO_IMAGES={path} is not a folder.")
            return path
        out = settings.BASE_DIR / DEMO_DATASET_DIR
        if out.exists():
            return out
        annotations = Path(settings.DEMO_COCO_ANNOTATIONS) if settings.DEMO_COCO_ANNOTATIONS else None
        download = settings.DEMO_DOWNLOAD
        if annotations is None or not annotations.is_file():
            if not download:
                self.stdout.write(
                    "No sample dataset: set DEMO_IMAGES to a folder of photos, or DEMO_COCO_ANNOTATIONS to a COCO "
                    "instances json (or DEMO_DOWNLOAD=true to fetch COCO val2017). Serving the site without data."
                )
                return None
            annotations = fetch_coco_val_annotations(settings.VAR_DIR / "coco")
            images = settings.VAR_DIR / "coco" / "val2017"
        else:
            images = Path(settings.DEMO_COCO_IMAGES) if settings.DEMO_COCO_IMAGES else coco_images_beside(annotations)
        result = extract_coco_subset(annotations, images, out, max_images=settings.DEMO_MAX_IMAGES, download=download)
        self.stdout.write(f"Extracted the demo dataset into {result.out_dir}.")
        return out


def gunicorn_command(host: str, port: str) -> list[str]:
    """The production server with the container's settings (docker/gunicorn.conf.py), bound here.

    2 workers x 4 threads: under 200 concurrent text searches on loopback, runserver
    refused connections where gunicorn answered every one (docs/benchmarks.md, "The demo's server").
    """
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(settings.BASE_DIR / "docker" / "gunicorn.conf.py"),
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(settings.DEMO_WEB_WORKERS),
        "--threads",
        str(settings.DEMO_WEB_THREADS),
        "--access-logfile",
        "-",
        "visualsearch.wsgi",
    ]


def server_env() -> dict[str, str]:
    """gunicorn's workers are new processes that read the environment, not this process's
    settings: what the demo changed here (the offline test CLIP, tasks run in the web
    process) goes to them as environment variables.
    """
    env = {**os.environ, "CLIP_MODEL": str(settings.CLIP_MODEL)}
    env["DEDUP_SEMANTIC_MIN_SCORE"] = str(settings.DEDUP_SEMANTIC_MIN_SCORE)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        env["CELERY_TASK_ALWAYS_EAGER"] = "true"
    return env


def serve(host: str, port: str, stdout) -> None:
    """Serve through gunicorn until Ctrl-C; then wait for it to stop its workers, and return."""
    server = subprocess.Popen(gunicorn_command(host, port), env=server_env(), cwd=settings.BASE_DIR)
    try:
        code = server.wait()
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reaches gunicorn too (same process group); a SIGINT sent to
        # this process alone is passed on. gunicorn then stops its workers at once.
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        stdout.write("[demo] serving: stopped")
        return
    if code != 0:
        raise CommandError(f"gunicorn exited with status {code}; its messages are above.")


def fetch_coco_val_annotations(folder: Path) -> Path:
    """COCO val2017's instances json, downloaded once (241 MB zip) for the online demo."""
    target = folder / "annotations" / "instances_val2017.json"
    if target.is_file():
        return target
    import zipfile

    from tqdm import tqdm

    archive = folder / "annotations_trainval2017.zip"
    try:
        with tqdm(unit="B", unit_scale=True, desc="COCO annotations") as bar:
            fetch_verified_file(COCO_ANNOTATIONS_URL, archive, COCO_ANNOTATIONS_SHA256, progress=bar.update)
    except DownloadSourceUnreachable as exc:
        raise CommandError(str(exc)) from exc
    except DatasetError as exc:
        raise CommandError(f"{exc}; set DEMO_IMAGES to a folder of photos instead.") from exc
    with zipfile.ZipFile(archive) as bundle:
        bundle.extract("annotations/instances_val2017.json", folder)
    archive.unlink()
    return target


def coco_images_beside(annotations: Path) -> Path:
    """COCO layout: annotations/instances_<split>.json next to images/<split>/."""
    split = annotations.stem.removeprefix("instances_")
    return annotations.parent.parent / "images" / split


# A cosine never reaches this: the semantic duplicate tier is off (docs/curation.md, "Duplicates").
SEMANTIC_OFF = 2.0


def use_test_clip(stdout) -> None:
    """Offline demo: a small random CLIP written once under var/, loaded like a real one."""
    path = settings.VAR_DIR / "test-clip"
    if not (path / "config.json").exists():
        call_command("make_test_clip", str(path), stdout=stdout)
    settings.CLIP_MODEL = str(path)
    # Its random vectors make unrelated photos look alike: no semantic duplicates with it.
    settings.DEDUP_SEMANTIC_MIN_SCORE = SEMANTIC_OFF
    reset_embedder()
    stdout.write(f"Using the offline test CLIP in {path} (search quality is not meaningful with it).")


def run_tasks_in_process(stdout) -> None:
    """One machine, no broker: the admin's indexing runs inside the demo's web process (eager mode)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.update(task_always_eager=True)  # the app may have read its settings already
    stdout.write(
        "No CELERY_BROKER_URL: indexing from the admin runs inside the web process (CELERY_TASK_ALWAYS_EAGER)."
    )


def load_models(stdout) -> None:
    """Load the detector and CLIP now (downloading them once when online), as indexing will."""
    detector, embedder = get_detector(), get_embedder()
    stdout.write(f"Detector {detector.version}; embedder {embedder.version}.")


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
