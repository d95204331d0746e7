"""Who may do and see what, over real HTTP: model permissions, staff-only details, inactive crops.

Real users and groups against a live server: a staff user who may only view is refused
the admin actions and API writes; a user whose group holds the permission does them.
"""

from __future__ import annotations

import pytest
import requests
from django.core.files.base import ContentFile

from indexing.models import Crop, IndexBuild, IndexingJob
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors
from tests.live import group_with, http_session, make_user

SERVER_PATH = "/srv/visualsearch/private/coco/annotations.json"
EXCEPTION_TEXT = f"batch of 3 images failed: OSError: [Errno 5] Input/output error: '{SERVER_PATH}'"


@pytest.fixture
def rows(transactional_db) -> dict:
    """A dataset from a server path, three crops (with files), and a failed job."""
    dataset = make_dataset()
    dataset.source = SERVER_PATH
    dataset.save()
    image = make_image(dataset)
    crops = [make_crop(image, vector) for vector in unit_vectors(3, seed=3)]
    for index, crop in enumerate(crops):
        crop.file.save(f"crop{index}.png", ContentFile(png_bytes(color=(index, 9, 9))), save=True)
    job = IndexingJob.objects.create(dataset=dataset, status="failed", error=EXCEPTION_TEXT)
    return {"dataset": dataset, "crops": crops, "job": job}


@pytest.fixture
def users(transactional_db) -> dict:
    viewers = group_with("viewers", "view_crop", "view_dataset", "view_indexbuild")
    curators = group_with("curators", "view_crop", "change_crop", "view_dataset", "index_dataset")
    return {
        "viewer": make_user("viewer", viewers, is_staff=True),
        "curator": make_user("curator", curators, is_staff=True),
        # Not staff: model permissions, not the admin flag, are what API writes need.
        "api_curator": make_user("api-curator", curators),
    }


def admin_action(session: requests.Session, base: str, model: str, action: str, pk: int) -> requests.Response:
    url = f"{base}/admin/indexing/{model}/"
    return session.post(url, data={"action": action, "_selected_action": [pk]}, allow_redirects=False, timeout=60)


def test_view_only_staff_is_refused_the_admin_actions(live_server, rows, users):
    crop, dataset = rows["crops"][0], rows["dataset"]
    viewer = http_session(users["viewer"])
    page = viewer.get(f"{live_server.url}/admin/indexing/crop/", timeout=60)
    assert page.status_code == 200 and 'value="deactivate"' not in page.text
    admin_action(viewer, live_server.url, "crop", "deactivate", crop.pk)
    admin_action(viewer, live_server.url, "dataset", "index_dataset", dataset.pk)
    admin_action(viewer, live_server.url, "dataset", "rebuild_index", dataset.pk)
    assert Crop.objects.get(pk=crop.pk).is_active
    assert IndexingJob.objects.count() == 1  # the fixture's failed job only
    assert not IndexBuild.objects.exists()


def test_a_group_with_the_permissions_runs_the_admin_actions(live_server, rows, users, real_models):
    crop, dataset = rows["crops"][0], rows["dataset"]
    curator = http_session(users["curator"])
    assert 'value="deactivate"' in curator.get(f"{live_server.url}/admin/indexing/crop/", timeout=60).text
    assert admin_action(curator, live_server.url, "crop", "deactivate", crop.pk).status_code == 302
    assert not Crop.objects.get(pk=crop.pk).is_active
    assert admin_action(curator, live_server.url, "dataset", "index_dataset", dataset.pk).status_code == 302
    assert IndexingJob.objects.filter(dataset=dataset).count() == 2
    assert admin_action(curator, live_server.url, "dataset", "rebuild_index", dataset.pk).status_code == 302
    assert IndexBuild.objects.filter(status="ready").exists()


def test_api_writes_need_the_model_permissions(live_server, rows, users, real_models):
    crop, dataset = rows["crops"][0], rows["dataset"]
    patch_url = f"{live_server.url}/api/crops/{crop.pk}"
    index_url = f"{live_server.url}/api/datasets/{dataset.pk}/index"
    for session in (http_session(), http_session(users["viewer"])):
        refused = session.patch(patch_url, json={"is_active": False}, timeout=60)
        assert refused.status_code in (401, 403) and refused.json()["error"]
        assert session.post(index_url, timeout=60).status_code in (401, 403)
    assert Crop.objects.get(pk=crop.pk).is_active
    assert IndexingJob.objects.count() == 1

    curator = http_session(users["api_curator"])
    assert curator.patch(patch_url, json={"is_active": False}, timeout=60).status_code == 200
    assert not Crop.objects.get(pk=crop.pk).is_active
    queued = curator.post(index_url, timeout=60)
    assert queued.status_code == 202 and queued.json()["dataset"] == dataset.pk


def test_paths_and_exception_texts_are_for_staff_only(live_server, rows, users):
    job, name = rows["job"], rows["dataset"].name
    for session, is_staff in ((http_session(), False), (http_session(users["viewer"]), True)):
        dataset = session.get(f"{live_server.url}/api/datasets", timeout=60).json()[0]
        job_error = session.get(f"{live_server.url}/api/jobs/{job.pk}", timeout=60).json()["error"]
        page = session.get(f"{live_server.url}/datasets", timeout=60).text
        assert dataset["name"] == name and name in page
        if is_staff:
            assert dataset["source"] == SERVER_PATH
            assert job_error == EXCEPTION_TEXT
            assert SERVER_PATH in page and "Input/output error" in page
        else:
            assert "source" not in dataset
            assert "failed" in job_error and "Input/output error" not in job_error
            assert SERVER_PATH not in page and "Input/output error" not in page and "Indexing failed" in page


def test_an_inactive_crop_is_not_found_anywhere(live_server, rows):
    crop, neighbour = rows["crops"][0], rows["crops"][1]
    crop_url = Crop.objects.get(pk=crop.pk).file.url
    paths = [f"/api/crops/{crop.pk}", f"/api/crops/{crop.pk}/similar", f"/crops/{crop.pk}", crop_url]
    assert [requests.get(live_server.url + p, timeout=60).status_code for p in paths] == [200] * 4

    Crop.objects.filter(pk=crop.pk).update(is_active=False)
    assert [requests.get(live_server.url + p, timeout=60).status_code for p in paths] == [404] * 4
    # Its neighbours are still there, without it.
    similar = requests.get(f"{live_server.url}/api/crops/{neighbour.pk}/similar", timeout=60).json()
    assert crop.pk not in [r["crop_id"] for r in similar["results"]] and similar["count"] == 1
