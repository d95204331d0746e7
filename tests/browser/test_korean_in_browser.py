"""The site in Korean, read on the screen in Debian's chromium: no English UI text, and a switch that keeps the query.

"No English" is checked on every text node of the page and every text a reader meets in
an attribute (placeholder, title, alt, aria-label): each is Korean (it holds Hangul), a
number or punctuation, a name that is the same in both languages (the product's, "API",
the other language's own name on its switch), inside <code> (a command), or the reader's
own data (their query, dataset and split names, the photo's file name).
"""

from __future__ import annotations

import re

import pytest

from indexing.ann import builds
from indexing.models import Dataset
from tests.browser.test_search_in_browser import ARTIFACTS, CHROMIUM
from tests.search.conftest import index_files

QUERY = "빨간 자동차"
SAME_IN_EVERY_LANGUAGE = {"VisualSearch", "API", "English"}
HANGUL = re.compile(r"[\uac00-\ud7a3]")
NO_WORDS = re.compile(r"^[\W\d_]*$")  # numbers, scores, "·", "–", "(0.87)"

# Every text node outside scripts, and the attributes a reader sees or hears.
READER_TEXTS = """() => {
  const texts = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest("script, style, code")) continue;
    texts.push(node.textContent);
  }
  for (const el of document.body.querySelectorAll("[placeholder], [title], [alt], [aria-label]")) {
    for (const name of ["placeholder", "title", "alt", "aria-label"]) {
      if (el.hasAttribute(name)) texts.push(el.getAttribute(name));
    }
  }
  return texts.map((t) => t.trim()).filter((t) => t);
}"""


def english_ui_texts(texts: list[str], user_data: set[str]) -> list[str]:
    """The texts that are neither Korean nor numbers nor names nor the reader's own data."""
    return [
        text
        for text in texts
        if not HANGUL.search(text)
        and not NO_WORDS.match(text)
        and text not in SAME_IN_EVERY_LANGUAGE
        and text not in user_data
    ]


@pytest.fixture
def korean_site(transactional_db, real_models, multilingual_queries, coco_subset_files):
    """An indexed sample, queries through the multilingual encoder, and a browser asking for Korean."""
    from playwright.sync_api import sync_playwright

    files = coco_subset_files[:4]
    index_files(files)
    builds.publish_build()
    user_data = {QUERY, files[0].name}
    for dataset in Dataset.objects.all():  # read here: Playwright's event loop forbids the ORM in its thread
        user_data |= {dataset.name, f"{dataset.name} {dataset.version}", dataset.version, *dataset.split_names}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(
            viewport={"width": 1280, "height": 900}, locale="ko-KR", extra_http_headers={"Accept-Language": "ko"}
        )
        yield page, files, user_data
        browser.close()


def test_home_and_search_pages_in_korean_show_no_english_ui_text(live_server, korean_site):
    page, files, user_data = korean_site
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "ko"
    assert english_ui_texts(page.evaluate(READER_TEXTS), user_data) == []
    page.screenshot(path=ARTIFACTS / "ko-home.png", full_page=True)

    # A text search in Korean words: results, with their class names in Korean.
    page.check("input[name=mode][value=text]")
    page.fill("#text-input", QUERY)
    page.locator("details.filters summary").click()
    page.fill("input[name=k]", "3")
    page.click("#search-button")
    page.wait_for_selector(".result")
    assert page.locator(".result").count() == 3
    assert f"“{QUERY}”와(과) 일치하는 물체" in page.locator("main").inner_text()
    assert english_ui_texts(page.evaluate(READER_TEXTS), user_data) == []
    page.screenshot(path=ARTIFACTS / "ko-text-results.png", full_page=True)

    # A photo search: its message, boxes and headings.
    page.goto(live_server.url + "/")
    page.set_input_files("#image-input", str(files[0]))
    page.click("#search-button")
    page.wait_for_selector("section.object")
    assert "사진에서 물체" in page.locator(".query .note").inner_text()
    assert english_ui_texts(page.evaluate(READER_TEXTS), user_data) == []
    page.screenshot(path=ARTIFACTS / "ko-photo-results.png", full_page=True)


def test_the_check_finds_english_left_in_a_korean_page(live_server, korean_site):
    """The check itself can fail: the same page in English is all English UI text."""
    page, _files, user_data = korean_site
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto(live_server.url + "/")
    left = english_ui_texts(page.evaluate(READER_TEXTS), user_data)
    assert "Find objects in photos" in left and "Filters" in left


def test_switching_language_keeps_the_query(live_server, korean_site):
    page, _files, _user_data = korean_site
    page.goto(f"{live_server.url}/search?mode=text&q={QUERY}&k=2")
    page.wait_for_selector(".result")
    page.click("#language-switch button[value=en]")
    page.wait_for_selector(".result")
    assert page.locator("html").get_attribute("lang") == "en"
    assert f"Objects matching “{QUERY}”" in page.locator("main").inner_text()
    assert page.input_value("#text-input") == QUERY and page.locator(".result").count() == 2
    # And back: the choice is kept (a cookie) over the browser's Accept-Language.
    page.click("#language-switch button[value=ko]")
    page.wait_for_selector(".result")
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.input_value("#text-input") == QUERY
