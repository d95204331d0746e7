"""Every detected object is drawn, the unsearched too, and a click on one of those runs its region query (Chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.ann import builds
from search.query.image import photos
from tests.browser.test_aimed_search_in_browser import chromium, upload_and_search
from tests.browser.test_search_in_browser import ARTIFACTS
from tests.search.conftest import index_files

# A box on top at its own centre (boxes of a crowd overlap): the one a person's click there reaches.
CLICKABLE_UNSEARCHED = """() => {
  const boxes = [...document.querySelectorAll('#query-photo .box.pick.unsearched')];
  return boxes.findIndex((b) => {
    const r = b.getBoundingClientRect();
    const top = document.elementsFromPoint(r.left + r.width / 2, r.top + r.height / 2).find((el) => el.dataset.box);
    return top === b;
  });
}"""


@pytest.fixture
def crowded(transactional_db, real_models, coco_subset_files, settings) -> tuple[Path, int]:
    """An indexed sample photo with at least three objects, searched one object at a time.

    Indexed before the browser starts: Playwright's event loop forbids ORM calls in this thread.
    """
    files = coco_subset_files[:6]
    index_files(files)
    builds.publish_build()
    settings.SEARCH_MAX_QUERY_OBJECTS = 1
    for path in files:
        found = photos.find_objects(photos.decode(path.read_bytes()))
        if found.found >= 3:
            return path, found.found
    pytest.fail("no indexed photo has three objects")


def test_every_object_is_drawn_and_a_click_on_an_unsearched_one_searches_its_region(live_server, crowded):
    path, count = crowded
    with chromium() as page:
        upload_and_search(page, live_server.url, path)
        assert page.locator("#query-photo .box.pick").count() == count  # every detection drawn
        assert page.locator("#query-photo .box.pick.unsearched").count() == count - 1
        assert page.locator("section.object").count() == 1  # results for the one searched object
        assert page.locator(".unsearched-objects .search-object").count() == count - 1
        page.screenshot(path=ARTIFACTS / "every-detection-1-drawn.png", full_page=True)
        index = page.evaluate(CLICKABLE_UNSEARCHED)
        assert index >= 0, "every unsearched box is covered by another at its centre"
        chosen = page.locator("#query-photo .box.pick.unsearched").nth(index)
        box = chosen.get_attribute("data-box")
        with page.expect_navigation():
            chosen.click()
        assert page.locator("section.object h2").inner_text() == f"The region {box}"
        assert page.locator(".box.region").count() == 1 and page.locator(".result").count() >= 1
        page.screenshot(path=ARTIFACTS / "every-detection-2-region.png", full_page=True)
