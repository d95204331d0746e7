"""A person's path through the site, in Debian's chromium driven by Playwright.

Screenshots go to test-artifacts/browser/ (TEST_ARTIFACTS_DIR overrides).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from indexing.ann import builds
from tests.search.conftest import index_files

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", settings.BASE_DIR / "test-artifacts")) / "browser"


@pytest.fixture
def indexed_files(transactional_db, real_models, coco_subset_files) -> list[Path]:
    """Indexed before the browser starts: Playwright's event loop forbids ORM calls in this thread."""
    files = coco_subset_files[:6]
    index_files(files)
    builds.publish_build()
    return files


@pytest.fixture
def browser_page(indexed_files):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}; `make test` installs Debian's chromium package.")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()


def test_upload_photo_see_boxes_text_search_and_more_like_this(live_server, indexed_files, browser_page):
    files, page = indexed_files, browser_page

    page.goto(live_server.url + "/")
    page.screenshot(path=ARTIFACTS / "1-home.png")
    page.set_input_files("#image-input", str(files[0]))
    page.click("#search-button")
    page.wait_for_selector(".box")
    assert page.locator(".box").count() >= 1
    assert page.locator(".result").count() >= 1
    page.screenshot(path=ARTIFACTS / "2-image-results.png", full_page=True)

    page.locator(".result a").first.click()
    page.wait_for_selector("#more-like-this")
    assert page.locator(".detail .box").count() == 1
    page.screenshot(path=ARTIFACTS / "3-crop-detail.png", full_page=True)
    first_crop_url = page.url

    page.locator("#more-like-this .result a").first.click()
    page.wait_for_selector("#more-like-this")
    assert page.url != first_crop_url
    page.screenshot(path=ARTIFACTS / "4-more-like-this.png", full_page=True)

    page.goto(live_server.url + "/")
    page.check("input[name=mode][value=text]")
    page.fill("#text-input", "a person on the street")
    page.click("#search-button")
    page.wait_for_selector(".result")
    assert "a person on the street" in page.content()
    assert page.locator(".result").count() >= 1
    page.screenshot(path=ARTIFACTS / "5-text-results.png", full_page=True)
