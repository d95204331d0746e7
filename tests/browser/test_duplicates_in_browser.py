"""A curator reviews duplicate groups in Chromium: keeps one photo of a group, dissolves another.

Screenshots go to test-artifacts/browser/ (as the search walk-through's).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from indexing.catalog import ingest
from indexing.pipeline import jobs
from tests.browser.test_search_in_browser import ARTIFACTS, browser_page  # noqa: F401 (the Chromium fixture)
from tests.duplicate_photos import altered
from tests.factories import make_dataset

PASSWORD = "a-long-test-password"


@pytest.fixture
def indexed_files(transactional_db, real_models, settings, coco_subset_files) -> list[Path]:
    """Two photos and a copy of each, indexed and grouped before the browser starts (no ORM in its thread)."""
    settings.DEDUP_ON_INGEST = "link"
    settings.DEDUP_SEMANTIC_MIN_SCORE = 1.01  # the test CLIP's vectors mean nothing
    dataset = make_dataset()
    a, b = coco_subset_files[:2]
    for name, data in {
        "a.jpg": a.read_bytes(),
        "a-copy.jpg": altered(a, "half"),
        "b.jpg": b.read_bytes(),
        "b-copy.jpg": altered(b, "jpeg60"),
    }.items():
        ingest.ingest_image(dataset, name, data)
    job, ids = jobs.create_job(dataset)
    jobs.run_job(job, ids)
    curator = User.objects.create_user("curator", password=PASSWORD, is_staff=True)
    curator.user_permissions.add(Permission.objects.get(codename="change_crop", content_type__app_label="indexing"))
    return [a, b]


def test_a_curator_keeps_one_photo_and_marks_a_group_not_duplicates(live_server, indexed_files, browser_page):  # noqa: F811
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/?next=/duplicates")
    page.fill("#id_username", "curator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector(".duplicate-group")
    assert page.locator(".duplicate-group").count() == 2
    first = page.locator(".duplicate-group").first
    assert first.locator(".member").count() == 2
    assert "perceptual" in first.inner_text()
    page.screenshot(path=ARTIFACTS / "duplicates-1-review.png", full_page=True)

    # Keep the second photo of the first group.
    keep_id = int(first.locator(".member").nth(1).get_attribute("data-image"))
    first.locator(f"input[name=image_id][value='{keep_id}']").check()
    first.locator(".keep-button").click()
    page.wait_for_selector(".message.success")
    assert "kept photo" in page.locator(".message.success").inner_text()
    assert page.locator(".duplicate-group").count() == 1

    page.locator(".duplicate-group .not-duplicates-button").click()
    page.wait_for_selector("#no-groups")
    page.screenshot(path=ARTIFACTS / "duplicates-2-resolved.png", full_page=True)

    resolved = page.request.get(f"{live_server.url}/api/duplicates/groups?status=resolved").json()
    assert [(g["status"], g["kept_image_id"]) for g in resolved] == [("resolved", keep_id)]
    hidden = [m for m in resolved[0]["members"] if m["image_id"] != keep_id]
    assert hidden and all(m["active_crops"] == 0 for m in hidden)
    page.goto(f"{live_server.url}/duplicates?status=resolved")
    assert page.locator(".duplicate-group").count() == 1
