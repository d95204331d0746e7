"""The admin is the curation tool: every model's pages load for staff only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from indexing.models import Crop, IndexBuild, IndexingJob, SourceImage
from tests.factories import make_crop, make_dataset, make_image, unit_vectors

pytestmark = pytest.mark.django_db

MODELS = ["dataset", "sourceimage", "crop", "indexbuild", "indexingjob"]
# Photos are added through their dataset's upload (ingest), crops by the pipeline, builds and
# jobs by the workers: no add page.
NO_ADD_PAGE = {"sourceimage", "crop", "indexbuild", "indexingjob"}


@pytest.fixture
def rows():
    dataset = make_dataset()
    image = make_image(dataset)
    crop = make_crop(image, unit_vectors(1)[0])
    build = IndexBuild.objects.create(kind="Flat", size=1)
    job = IndexingJob.objects.create(dataset=dataset, total_images=1)
    return {"dataset": dataset, "sourceimage": image, "crop": crop, "indexbuild": build, "indexingjob": job}


@pytest.mark.parametrize("model", MODELS)
def test_staff_can_open_list_add_and_change_pages(admin_client, rows, model):
    for url in (
        reverse(f"admin:indexing_{model}_changelist"),
        *([] if model in NO_ADD_PAGE else [reverse(f"admin:indexing_{model}_add")]),
        reverse(f"admin:indexing_{model}_change", args=[rows[model].pk]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url


@pytest.mark.parametrize("model", MODELS)
def test_anonymous_is_redirected_to_login(client, rows, model):
    url = reverse(f"admin:indexing_{model}_changelist")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_crop_list_shows_thumbnails_and_filters(admin_client, rows):
    response = admin_client.get(reverse("admin:indexing_crop_changelist"), {"label": "person"})
    body = response.content.decode()
    assert rows["crop"].image.dataset.name in body
    assert "<img" in body
    response = admin_client.get(reverse("admin:indexing_crop_changelist"), {"label": "car"})
    assert "0 crops" in response.content.decode()


def test_deactivate_and_reactivate_actions(admin_client, rows):
    url = reverse("admin:indexing_crop_changelist")
    crop = rows["crop"]
    admin_client.post(url, {"action": "deactivate", "_selected_action": [crop.pk]})
    assert Crop.objects.get(pk=crop.pk).is_active is False
    admin_client.post(url, {"action": "reactivate", "_selected_action": [crop.pk]})
    assert Crop.objects.get(pk=crop.pk).is_active is True


def test_image_list_filters_by_status(admin_client, rows):
    url = reverse("admin:indexing_sourceimage_changelist")
    assert "img0.png" in admin_client.get(url, {"status__exact": "pending"}).content.decode()
    assert "img0.png" not in admin_client.get(url, {"status__exact": "failed"}).content.decode()


def test_photos_uploaded_into_a_dataset_are_indexed(
    admin_client, real_models, coco_subset_files, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from indexing.models import Dataset, SourceImage

    dataset = make_dataset("uploads")
    files = coco_subset_files[:2]
    # Indexing is queued when the admin's transaction commits (the test's own never does).
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:indexing_dataset_change", args=[dataset.pk]),
            {
                "name": dataset.name,
                "version": dataset.version,
                "split_names": '["train", "val", "test"]',
                "upload_images": [SimpleUploadedFile(p.name, p.read_bytes(), "image/jpeg") for p in files],
                "upload_split": "train",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    images = SourceImage.objects.filter(dataset=dataset)
    assert images.count() == 2
    assert set(images.values_list("status", flat=True)) == {"done"}
    assert Crop.objects.filter(image__dataset=dataset).exists()
    assert IndexingJob.objects.get(dataset=dataset).status == "done"
    assert Dataset.objects.filter(pk=dataset.pk).exists()


def test_index_and_rebuild_actions_queue_the_work(
    admin_client, real_models, coco_subset_files, django_capture_on_commit_callbacks
):
    from indexing.ann import builds
    from indexing.catalog import ingest

    dataset = make_dataset("pending")
    for path in coco_subset_files[:1]:
        ingest.ingest_image(dataset, path.name, path.read_bytes(), "train")
    url = reverse("admin:indexing_dataset_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"action": "index_dataset", "_selected_action": [dataset.pk]})
    assert IndexingJob.objects.get(dataset=dataset).status == "done"
    # Finishing the job published a build; the action publishes a newer one.
    first = builds.latest_ready_build()
    assert first is not None
    with django_capture_on_commit_callbacks(execute=True):  # queued once the admin's transaction commits
        admin_client.post(url, {"action": "rebuild_index", "_selected_action": [dataset.pk]})
    build = builds.latest_ready_build()
    assert build.pk != first.pk
    assert build.size == Crop.objects.filter(is_active=True).count()


# --- System records are read-only; only curation is edited -----------------------------


def test_the_admin_cannot_move_a_photo_to_another_dataset_or_replace_its_file(admin_client, rows):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import png_bytes

    image, other = rows["sourceimage"], make_dataset("elsewhere")
    before = (image.dataset_id, image.file.name, image.sha256, image.status)
    url = reverse("admin:indexing_sourceimage_change", args=[image.pk])
    response = admin_client.post(
        url,
        {
            "original_name": "renamed.png",
            "dataset": other.pk,
            "sha256": "0" * 64,
            "status": "done",
            "file": SimpleUploadedFile("other.png", png_bytes(color=(1, 2, 3))),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    image.refresh_from_db()
    assert (image.dataset_id, image.file.name, image.sha256, image.status) == before
    assert image.original_name == "renamed.png"  # its display name is curation
    # Django's delete would leave its files: a photo goes with its dataset (indexing.catalog.deletion).
    assert (
        admin_client.post(reverse("admin:indexing_sourceimage_delete", args=[image.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert SourceImage.objects.filter(pk=image.pk).exists()


def test_the_admin_cannot_edit_or_delete_an_index_build_or_a_job(admin_client, rows):
    build, job = rows["indexbuild"], rows["indexingjob"]
    IndexBuild.objects.filter(pk=build.pk).update(params={"efSearch": 64})
    url = reverse("admin:indexing_indexbuild_change", args=[build.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and b'name="params"' not in page.content  # shown, not a form field
    assert admin_client.post(url, {"kind": "Flat", "size": 1, "params": '{"efSearch": 100000000}'}).status_code == 403
    build.refresh_from_db()
    assert build.params == {"efSearch": 64}
    assert (
        admin_client.post(reverse("admin:indexing_indexbuild_delete", args=[build.pk]), {"post": "yes"}).status_code
        == 403
    )
    job_url = reverse("admin:indexing_indexingjob_change", args=[job.pk])
    assert admin_client.post(job_url, {"status": "done", "total_images": 0}).status_code == 403
    job.refresh_from_db()
    assert job.status == IndexingJob.Status.QUEUED and job.total_images == 1
    assert IndexBuild.objects.filter(pk=build.pk).exists()


def test_a_crop_edited_in_the_admin_keeps_its_box_and_file_and_records_the_curator(admin_client, rows):
    crop = rows["crop"]
    url = reverse("admin:indexing_crop_change", args=[crop.pk])
    response = admin_client.post(url, {"label": "dog", "x1": 0, "x2": 999, "confidence": 0.01})  # is_active unticked
    assert response.status_code == 302, response.content.decode()[:2000]
    crop.refresh_from_db()
    assert (crop.label, crop.is_active, crop.hidden_by) == ("dog", False, Crop.HiddenBy.CURATOR)
    assert (crop.x1, crop.x2, crop.confidence) != (0, 999, 0.01)
