"""Aimed search in Chromium: a region drawn or clicked, a minimum score, live job progress, offline API docs.

Screenshots go to test-artifacts/browser/ (TEST_ARTIFACTS_DIR overrides).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

from indexing.ann import builds
from indexing.catalog import ingest
from indexing.models import Dataset, IndexingJob
from indexing.pipeline import jobs
from tests.browser.test_search_in_browser import ARTIFACTS, CHROMIUM
from tests.search.conftest import index_files

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


@contextmanager
def chromium(offline_except: str | None = None):
    """A Chromium page; with ``offline_except``, every request elsewhere is aborted (no internet)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}; `make test` installs Debian's chromium package.")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        outside: list[str] = []
        if offline_except:

            def block(route):
                url = route.request.url
                if url.startswith((offline_except, "data:", "blob:")):
                    return route.continue_()
                outside.append((route.request.resource_type, url))
                return route.abort("internetdisconnected")

            context.route("**/*", block)
        page = context.new_page()
        page.outside_requests = outside
        yield page
        browser.close()


@pytest.fixture
def indexed_files(transactional_db, real_models, coco_subset_files) -> list[Path]:
    files = coco_subset_files[:6]
    index_files(files)
    builds.publish_build()
    return files


def upload_and_search(page, base_url: str, path: Path) -> None:
    page.goto(base_url + "/")
    page.set_input_files("#image-input", str(path))
    page.click("#search-button")
    page.wait_for_selector("#query-photo .box")


def scores(page) -> list[float]:
    return [float(s) for s in page.locator(".result .score").all_inner_texts()]


def test_draw_a_box_and_get_results_for_that_region(live_server, indexed_files):
    with chromium() as page:
        upload_and_search(page, live_server.url, indexed_files[1])
        photo = page.locator("#query-photo").bounding_box()
        x0, y0 = photo["x"] + photo["width"] * 0.05, photo["y"] + photo["height"] * 0.05
        x1, y1 = photo["x"] + photo["width"] * 0.6, photo["y"] + photo["height"] * 0.7
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x1, y1, steps=8)
        page.screenshot(path=ARTIFACTS / "aim-1-drawing-a-box.png")
        with page.expect_navigation():
            page.mouse.up()
        heading = page.locator("section.object h2").inner_text()
        assert heading.startswith("The region ")
        box = [float(v) for v in heading.removeprefix("The region ").split(",")]
        width = float(page.locator("#query-photo").get_attribute("data-width"))
        # The box drawn, in source pixels: from about 5 % to 60 % of the photo's width.
        assert box[0] == pytest.approx(0.05 * width, abs=0.02 * width)
        assert box[2] == pytest.approx(0.6 * width, abs=0.02 * width)
        assert page.locator("section.object").count() == 1
        assert page.locator(".box.region").count() == 1 and page.locator(".result").count() >= 1
        page.screenshot(path=ARTIFACTS / "aim-2-region-results.png", full_page=True)


def test_click_a_detected_object_and_get_results_for_it_alone(live_server, indexed_files):
    with chromium() as page:
        upload_and_search(page, live_server.url, indexed_files[0])
        picks = page.locator("#query-photo .box.pick")
        assert picks.count() >= 1
        chosen = picks.nth(picks.count() - 1)
        box = chosen.get_attribute("data-box")
        # The object's own results on the first page (its section is in the same order as the boxes).
        own_first = page.locator(f"#object-{picks.count()} .result a").first.get_attribute("href")
        with page.expect_navigation():
            chosen.click()
        assert page.locator("section.object").count() == 1
        assert page.locator("section.object h2").inner_text() == f"The region {box}"
        # That object's crop, so the same nearest crop: the object itself, indexed.
        assert page.locator(".result a").first.get_attribute("href") == own_first
        page.screenshot(path=ARTIFACTS / "aim-3-clicked-object.png", full_page=True)


def test_a_minimum_score_shows_fewer_results(live_server, indexed_files):
    with chromium() as page:
        page.goto(live_server.url + "/")
        page.check("input[name=mode][value=text]")
        page.fill("#text-input", "a person")
        page.click("summary")
        page.fill("input[name=k]", "20")
        page.click("#search-button")
        page.wait_for_selector(".result")
        before = scores(page)
        assert len(before) >= 4
        floor = sorted(before)[len(before) // 2]
        page.click("summary")
        page.fill("#min-score", f"{floor:.3f}")
        page.click("#search-button")
        page.wait_for_selector(".result")
        after = scores(page)
        assert 0 < len(after) < len(before) and min(after) >= floor - 0.001
        page.screenshot(path=ARTIFACTS / "aim-4-min-score.png", full_page=True)


def test_a_running_jobs_bar_moves_without_a_reload(live_server, transactional_db, real_models, coco_subset_files):
    dataset = Dataset.objects.create(name="live", version="version_1", split_names=["train"])
    ingest.ingest_files(dataset, [(path, "train") for path in coco_subset_files[:6]])
    job, ids = jobs.create_job(dataset)

    def run() -> None:
        try:
            # A pause after each batch, longer than the page's polling interval: the bar
            # must show the steps, however fast this machine processes a photo.
            jobs.run_job(job, ids, batch_size=1, progress=lambda *_: time.sleep(2))
        finally:
            connection.close()

    seen: list[int] = []
    with chromium() as page:
        page.goto(live_server.url + "/datasets")
        page.evaluate("window.notReloaded = true")
        bar = page.locator(f"#job-{job.pk} progress")
        worker = threading.Thread(target=run)
        worker.start()
        try:
            for _ in range(600):
                value = int(float(bar.get_attribute("value")))
                if not seen or value != seen[-1]:
                    seen.append(value)
                    if len(seen) == 3:
                        page.screenshot(path=ARTIFACTS / "aim-5-job-progress.png")
                if page.locator(f"#job-{job.pk}").get_attribute("data-status") == "done":
                    break
                page.wait_for_timeout(200)
        finally:
            worker.join(timeout=300)
        # The poll that brought "done" may land between reading the bar and reading the status.
        final = int(float(bar.get_attribute("value")))
        if final != seen[-1]:
            seen.append(final)
        assert page.evaluate("window.notReloaded") is True  # the same page, never reloaded
        assert page.locator(f"#job-{job.pk} .job-processed").inner_text() == str(len(ids))
        assert page.locator(f"#job-{job.pk} .job-eta").inner_text() == "finished"
    # The bar moved in steps, forward only, to the end.
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == len(ids)
    assert IndexingJob.objects.get(pk=job.pk).status == IndexingJob.Status.DONE


def test_api_docs_work_with_the_network_cut_off(live_server, db):
    with chromium(offline_except=live_server.url) as page:
        page.goto(live_server.url + "/api/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert {"/api/search/text", "/api/search/image", "/api/search/photos"} <= set(paths)
        assert not page.outside_requests, page.outside_requests  # Swagger UI: not one request outside
        page.screenshot(path=ARTIFACTS / "aim-6-api-docs-offline.png", full_page=True)
        page.goto(live_server.url + "/api/redoc")
        page.wait_for_selector(".api-content", timeout=30_000)  # ReDoc rendered the schema
        assert "/api/search/photos" in page.content()
        # Nothing the docs run or style themselves with comes from outside (ReDoc's bundle links
        # one "powered by" logo image on its CDN: a missing picture offline, nothing more).
        needed = [(kind, url) for kind, url in page.outside_requests if kind != "image"]
        assert not needed, needed
