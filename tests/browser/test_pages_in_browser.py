"""What a person reads on the pages, in Debian's chromium: counters, job rows, folded copies, the home page.

Each test reads the words on the screen (not the markup): "Results 4–6", "took 3 s",
"+2 copies", "5 photos". Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from indexing.ann import builds
from indexing.catalog import ingest
from indexing.models import Crop, IndexingJob, SourceImage
from indexing.pipeline import jobs
from tests.browser.test_search_in_browser import ARTIFACTS, browser_page  # noqa: F401 (the Chromium fixture)
from tests.duplicate_photos import altered
from tests.factories import make_dataset

COPIES = ("half", "jpeg60")  # two altered copies of the first photo: one picture three times


@pytest.fixture
def indexed_files(transactional_db, real_models, settings, coco_subset_files) -> dict:
    """A photo with two copies (one duplicate group of three) and four other photos, indexed and served.

    Everything the tests compare with is read here: Playwright's event loop forbids the ORM in its thread.
    """
    settings.DEDUP_ON_INGEST = "link"
    settings.DEDUP_SEMANTIC_MIN_SCORE = 1.01  # the test CLIP's vectors mean nothing
    dataset = make_dataset("sample")
    first, *others = coco_subset_files[:5]
    ingest.ingest_image(dataset, "first.jpg", first.read_bytes())
    for change in COPIES:
        ingest.ingest_image(dataset, f"first-{change}.jpg", altered(first, change))
    for path in others:
        ingest.ingest_image(dataset, path.name, path.read_bytes())
    job, ids = jobs.create_job(dataset)
    jobs.run_job(job, ids)
    builds.publish_build()
    job.refresh_from_db()
    copies = SourceImage.objects.filter(original_name__startswith="first").count()
    assert copies == 3 and SourceImage.objects.filter(duplicate_member__isnull=False).count() == 3
    return {
        "files": [first, *others],
        "job": job,
        "photos": SourceImage.objects.filter(crops__is_active=True).distinct().count(),
        "objects": Crop.objects.filter(is_active=True).count(),
    }


def counter(section) -> str:
    """The "Results a–b" a person reads in a section (the en dash as the page writes it)."""
    found = re.search(r"Results \d+–\d+", section.inner_text())
    return found.group(0) if found else f"no counter in {section.inner_text()[:300]!r}"


def test_text_search_counts_the_results_on_each_page(live_server, indexed_files, browser_page):  # noqa: F811
    page = browser_page
    page.goto(f"{live_server.url}/search?mode=text&q=a+photo&k=3&show_copies=1")
    page.wait_for_selector(".result")
    assert page.locator(".result").count() == 3
    assert counter(page.locator("main")) == "Results 1–3"
    page.click("#next-page")
    page.wait_for_selector("#previous-page")
    shown = page.locator(".result").count()
    assert shown >= 1
    assert counter(page.locator("main")) == f"Results 4–{3 + shown}"
    page.screenshot(path=ARTIFACTS / "pages-text-counter.png", full_page=True)


def test_photo_search_counts_each_objects_results_and_its_pages(live_server, indexed_files, browser_page):  # noqa: F811
    page = browser_page
    page.goto(live_server.url + "/")
    page.set_input_files("#image-input", str(indexed_files["files"][1]))
    page.locator("details.filters summary").click()
    page.fill("input[name=k]", "2")
    page.click("#search-button")
    page.wait_for_selector("section.object")
    sections = page.locator("section.object")
    assert sections.count() >= 1
    for i in range(sections.count()):
        shown = sections.nth(i).locator(".result").count()
        assert shown >= 1
        assert counter(sections.nth(i)) == f"Results 1–{shown}"
    page.click("#next-page")
    page.wait_for_selector("#previous-page")
    sections = page.locator("section.object")
    for i in range(sections.count()):
        shown = sections.nth(i).locator(".result").count()
        expected = f"Results 3–{2 + shown}" if shown else "No more results"
        assert expected in sections.nth(i).inner_text()
    page.screenshot(path=ARTIFACTS / "pages-photo-counter.png", full_page=True)


def test_job_rows_say_when_they_ran_and_how_long_they_took(live_server, indexed_files, browser_page):  # noqa: F811
    job: IndexingJob = indexed_files["job"]
    page = browser_page
    page.goto(live_server.url + "/datasets")
    row = page.locator(f"#job-{job.pk}")
    text = row.inner_text()
    started = timezone.localtime(job.started)
    assert started.strftime("%Y-%m-%d %H:%M") in text, text
    took = re.search(r"took (\d+) s", text)
    assert took, text
    seconds = (job.finished - job.started).total_seconds()
    assert abs(int(took.group(1)) - seconds) <= 1, (text, seconds)
    assert page.locator(".job").count() == 1
    page.screenshot(path=ARTIFACTS / "pages-job-rows.png", full_page=True)


def test_copies_of_a_photo_are_folded_by_default_and_open_on_click(live_server, indexed_files, browser_page):  # noqa: F811
    page = browser_page
    page.goto(live_server.url + "/")
    page.check("input[name=mode][value=text]")
    page.fill("#text-input", "a photo")
    page.locator("details.filters summary").click()
    page.fill("input[name=k]", "100")
    page.click("#search-button")
    page.wait_for_selector(".result")
    folded = page.locator(".result", has_text="+2 copies")
    assert folded.count() == 1, page.locator(".grid").inner_text()
    folded_count = page.locator(".result").count()
    folded.get_by_text("+2 copies").click()
    copies = folded.locator(".copies a.copy")
    copies.first.wait_for(state="visible")
    assert copies.count() == 2
    page.screenshot(path=ARTIFACTS / "pages-folded.png", full_page=True)

    # The copy opens on its crop page: usable by anyone, staff or not.
    copies.first.click()
    page.wait_for_selector("#more-like-this")
    assert "/crops/" in page.url

    # The switch shows every copy: more results, no fold badge.
    page.go_back()
    page.wait_for_selector(".result")
    page.locator("details.filters summary").click()
    page.check("#show-copies")
    page.click("#search-button")
    page.wait_for_selector(".result")
    assert page.locator(".result", has_text="copies").count() == 0
    assert page.locator(".result").count() > folded_count
    assert page.locator("#show-copies").is_checked()


def test_home_page_shows_the_collection_and_sample_queries(live_server, indexed_files, browser_page):  # noqa: F811
    page = browser_page
    page.goto(live_server.url + "/")
    summary = page.locator(".collection").inner_text()
    assert f"{indexed_files['photos']} photos" in summary and f"{indexed_files['objects']} objects" in summary
    samples = page.locator(".collection a.sample")
    assert samples.count() >= 1
    query = samples.first.inner_text()
    samples.first.click()
    page.wait_for_selector(".result")
    assert f"Objects matching “{query}”" in page.locator("main").inner_text()
    page.screenshot(path=ARTIFACTS / "pages-home.png", full_page=True)
