"""The README's demo: database, migrations, admin login, a sample dataset indexed, the site served.

Online, the official weights download on first use. Offline (our CI machines), the
README's environment variables point at ../shared/assets and a test CLIP.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.datasets import extract_coco_subset
from indexing.vision.embedder import reset_embedder

DEMO_DATASET_DIR = Path("datasets/coco_subset/demo")
COCO_ANNOTATIONS_URL = "http://images.cocodataset.org/annotations/annotations_trainval2017.zip"


class Command(BaseCommand):
    help = "Prepare the database, index a sample dataset and serve the site (see README: make demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--no-serve", action="store_true", help="Prepare and index, then exit.")

    def handle(self, *args, host: str, port: str, no_serve: bool, **options) -> None:
        where = settings.EMBEDDED_DATABASE_DIR or "DATABASE_URL"
        self.stdout.write(f"Database: PostgreSQL + pgvector ({where})")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Migrations applied.")
        username, password = ensure_demo_admin()
        if settings.DEMO_TEST_CLIP:
            use_test_clip(self.stdout)
        dataset_path = self.sample_dataset()
        if dataset_path is not None:
            call_command("embed_and_index", dataset_path=dataset_path, split="all", stdout=self.stdout)
        if no_serve:
            return
        self.stdout.write(self.style.SUCCESS(f"VisualSearch is at http://{host}:{port}/"))
        self.stdout.write(f"Admin: http://{host}:{port}/admin/  login {username} / {password}")
        call_command("runserver", f"{host}:{port}", use_reloader=False)

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


def fetch_coco_val_annotations(folder: Path) -> Path:
    """COCO val2017's instances json, downloaded once (241 MB zip) for the online demo."""
    target = folder / "annotations" / "instances_val2017.json"
    if target.is_file():
        return target
    import zipfile

    import requests
    from tqdm import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "annotations_trainval2017.zip"
    partial = archive.with_suffix(".zip.part")
    try:
        with requests.get(COCO_ANNOTATIONS_URL, stream=True, timeout=60) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length", 0)) or None
            with (
                open(partial, "wb") as out,
                tqdm(total=total, unit="B", unit_scale=True, desc="COCO annotations") as bar,
            ):
                for chunk in response.iter_content(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as exc:
        raise CommandError(
            f"Could not download the COCO annotations from {COCO_ANNOTATIONS_URL} ({exc}); "
            "set DEMO_IMAGES to a folder of photos instead."
        ) from exc
    partial.replace(archive)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extract("annotations/instances_val2017.json", folder)
    archive.unlink()
    return target


def coco_images_beside(annotations: Path) -> Path:
    """COCO layout: annotations/instances_<split>.json next to images/<split>/."""
    split = annotations.stem.removeprefix("instances_")
    return annotations.parent.parent / "images" / split


def use_test_clip(stdout) -> None:
    """Offline demo: a small random CLIP written once under var/, loaded like a real one."""
    path = settings.VAR_DIR / "test-clip"
    if not (path / "config.json").exists():
        call_command("make_test_clip", str(path), stdout=stdout)
    settings.CLIP_MODEL = str(path)
    reset_embedder()
    stdout.write(f"Using the offline test CLIP in {path} (search quality is not meaningful with it).")


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
