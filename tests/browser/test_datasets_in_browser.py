"""A curator on the datasets page, in Debian's chromium: retry failed photos, delete a dataset."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from indexing.ann import builds
from indexing.models import SourceImage
from indexing.vision.detector import get_detector
from indexing.vision.embedder import get_embedder
from tests.browser.test_search_in_browser import ARTIFACTS, browser_page  # noqa: F401 - fixture
from tests.factories import make_dataset, make_image

PASSWORD = "a curator's long password"


@pytest.fixture
def indexed_files(transactional_db, real_models):
    """What browser_page waits for: rows made before the browser starts (no ORM in Playwright's thread)."""
    kept, doomed = make_dataset("kept"), make_dataset("doomed")
    failed = make_image(kept, seed=1)
    SourceImage.objects.filter(pk=failed.pk).update(status=SourceImage.Status.FAILED, error="was broken, now fixed")
    make_image(doomed, seed=2)
    builds.publish_build()
    user = User.objects.create_user("curator", password=PASSWORD, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["index_dataset", "delete_dataset"]))
    # The retry indexes within its request (eager tasks): load the models before the clock starts.
    get_detector(), get_embedder()


def test_a_curator_retries_failed_photos_and_deletes_a_dataset(live_server, indexed_files, request):
    page = request.getfixturevalue("browser_page")  # after the rows: Playwright's loop forbids the ORM
    page.goto(live_server.url + "/accounts/login/?next=/datasets")
    page.fill("input[name=username]", "curator")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_selector("section.dataset")
    assert page.locator("section.dataset").count() == 2
    page.screenshot(path=ARTIFACTS / "datasets-1-staff.png", full_page=True)

    page.click("button[name=retry]")
    page.wait_for_selector("text=queued over the failed photos of kept:version_1")
    assert "0 failed" in page.locator("section.dataset", has_text="kept").inner_text()
    assert page.locator("button[name=retry]").count() == 0

    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.locator("section.dataset", has_text="doomed").locator("button[name=delete]").click()
    page.wait_for_selector("text=Deleted doomed:version_1.")
    assert dialogs and "doomed:version_1" in dialogs[0]
    assert page.locator("section.dataset").count() == 1
    assert page.locator("section.dataset h2").inner_text().startswith("kept")
    page.screenshot(path=ARTIFACTS / "datasets-2-deleted.png", full_page=True)
