"""The README's screenshot, made from the demo so it stays true: `make screenshot`.

Runs the demo without serving it (database, models, the sample indexed; offline: the
shared assets and the test CLIP, as `make demo`), serves it with gunicorn on a free
loopback port, searches with one of the sample's photos in Debian's chromium (Playwright)
and saves the results page as a small palette PNG (docs/images/search-results.png).
"""

from __future__ import annotations

import io
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, F, Q

from indexing.models import SourceImage
from visualsearch.management.commands.demo import gunicorn_command, server_env

DEFAULT_OUT = Path("docs/images/search-results.png")
VIEWPORT = {"width": 1100, "height": 1000}
# Results per object on the page: one row of the grid each.
RESULTS_PER_OBJECT = 6
# Photos with this many searchable objects make a page that shows boxes and grids in one screen.
OBJECTS_WANTED = (2, 3)
MAX_PNG_BYTES = 300_000
# The picture: the query photo and the grids of its first objects, no taller than this.
MAX_OBJECTS_SHOWN = 2
MAX_HEIGHT = 1500
START_TIMEOUT_S = 60
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


class Command(BaseCommand):
    help = "Index the demo sample and save a Chromium screenshot of a results page (README's picture)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
        parser.add_argument("--chromium", default="/usr/bin/chromium")

    def handle(self, *args, out: Path, chromium: str, **options) -> None:
        call_command("demo", no_serve=True, stdout=self.stdout)
        photo = query_photo()
        port = free_port()
        settings.DEMO_WEB_WORKERS = 1
        server = subprocess.Popen(
            gunicorn_command("127.0.0.1", str(port)), env=server_env(), cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, server)
            png = take_screenshot(url, photo, chromium)
        finally:
            server.terminate()
            server.wait(timeout=30)
        out = settings.BASE_DIR / out
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png)
        self.stdout.write(self.style.SUCCESS(f"Saved {out} ({len(png) // 1024} KB), searching with {photo.name}."))


def query_photo() -> Path:
    """A landscape sample photo with a few objects of different kinds: its boxes and their grids fit one picture."""
    active = Q(crops__is_active=True)
    photos = (
        SourceImage.objects.annotate(
            objects=Count("crops", filter=active), kinds=Count("crops__label", filter=active, distinct=True)
        )
        .filter(objects__gte=OBJECTS_WANTED[0], objects__lte=OBJECTS_WANTED[1], width__gt=F("height") * 1.2)
        .order_by("-kinds", "-objects", "id")
    )
    photo = photos.first() or SourceImage.objects.filter(crops__is_active=True).order_by("id").first()
    if photo is None:
        raise CommandError("The demo indexed no photo with objects: nothing to take a picture of.")
    return Path(photo.file.path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CommandError(f"gunicorn exited with status {server.returncode}.")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise CommandError(f"The site did not answer at {url} within {START_TIMEOUT_S} s.")


def take_screenshot(url: str, photo: Path, chromium: str) -> bytes:
    """The results page for ``photo``, as a person sees it after a search from the home page."""
    from playwright.sync_api import sync_playwright

    if not Path(chromium).exists():
        raise CommandError(f"chromium not found at {chromium}; `make browser` installs Debian's chromium.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url + "/")
            page.set_input_files("#image-input", str(photo))
            page.locator("details.filters summary").click()
            page.fill("input[name=k]", str(RESULTS_PER_OBJECT))
            page.click("#search-button")
            page.wait_for_selector(".result img")
            page.wait_for_load_state("networkidle")  # the crops' thumbnails
            raw = page.screenshot(full_page=True, clip=results_area(page))
        finally:
            browser.close()
    return small_png(raw)


def results_area(page) -> dict:
    """From "Your photo" to the end of the first objects' grids, at most MAX_HEIGHT pixels tall."""
    top = page.locator("section.query").bounding_box()["y"] - 12
    sections = page.locator("section.object")
    last = sections.nth(min(sections.count(), MAX_OBJECTS_SHOWN) - 1).bounding_box()
    bottom = min(last["y"] + last["height"] + 12, top + MAX_HEIGHT)
    return {"x": 0, "y": top, "width": VIEWPORT["width"], "height": bottom - top}


def small_png(raw: bytes) -> bytes:
    """The screenshot as a 256-colour PNG: a page of flat colours and thumbnails stays well under 300 KB."""
    from PIL import Image

    image = Image.open(io.BytesIO(raw)).convert("RGB")
    for colours in (256, 128, 64):
        buffer = io.BytesIO()
        image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG", optimize=True)
        if buffer.tell() <= MAX_PNG_BYTES:
            break
    return buffer.getvalue()
