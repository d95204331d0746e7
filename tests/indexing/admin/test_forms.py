"""Photos uploaded in the admin: only raster images are stored, each refusal is named, indexing waits for the commit."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.urls import reverse

from indexing import tasks
from indexing.models import IndexingJob, SourceImage
from tests.factories import make_dataset

HTML = b"<!doctype html><html><body><script>fetch('/admin/')</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>'


def upload(dataset, files: list[SimpleUploadedFile], client):
    return client.post(
        reverse("admin:indexing_dataset_change", args=[dataset.pk]),
        {
            "name": dataset.name,
            "version": dataset.version,
            "split_names": '["train", "val", "test"]',
            "upload_images": files,
            "upload_split": "train",
        },
    )


@pytest.mark.django_db
def test_pages_and_drawings_are_refused_with_a_message_per_file(admin_client, coco_subset_files):
    dataset = make_dataset("uploads")
    photo = coco_subset_files[0]
    response = upload(
        dataset,
        [
            SimpleUploadedFile(photo.name, photo.read_bytes(), "image/jpeg"),
            SimpleUploadedFile("invoice.html", HTML, "text/html"),
            SimpleUploadedFile("logo.svg", SVG, "image/svg+xml"),
        ],
        admin_client,
    )
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors["upload_images"]
    assert len(errors) == 2
    assert "invoice.html" in errors[0] and "logo.svg" in errors[1]
    # All or nothing: the good photo waits for a clean submission, and no job is queued.
    assert not SourceImage.objects.filter(dataset=dataset).exists()
    assert not IndexingJob.objects.filter(dataset=dataset).exists()


@pytest.mark.django_db
def test_a_photo_is_stored_by_content_whatever_its_uploaded_name(admin_client, coco_subset_files, media_root):
    dataset = make_dataset("uploads")
    data = coco_subset_files[0].read_bytes()
    response = upload(dataset, [SimpleUploadedFile("photo.html", data, "text/html")], admin_client)
    assert response.status_code == 302
    image = SourceImage.objects.get(dataset=dataset)
    assert Path(image.file.name).name == f"{hashlib.sha256(data).hexdigest()}.jpg"
    assert (media_root / image.file.name).read_bytes() == data


@pytest.mark.django_db(transaction=True)
def test_indexing_is_queued_only_after_the_upload_commits(admin_client, coco_subset_files, monkeypatch):
    """A worker handed the task must find the job and its photos: look from another connection."""
    seen = []

    def delay(job_id, rebuild_index=True):
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {SourceImage._meta.db_table} WHERE job_id = %s", [job_id])
                seen.append(cursor.fetchone()[0])
        finally:
            other.close()

    monkeypatch.setattr(tasks.index_job_task, "delay", delay)
    dataset = make_dataset("uploads")
    files = [SimpleUploadedFile(p.name, p.read_bytes(), "image/jpeg") for p in coco_subset_files[:2]]
    response = upload(dataset, files, admin_client)
    assert response.status_code == 302
    assert seen == [2]


def curator_with(*codenames: str):
    """Staff who may edit datasets (the upload) and whatever else is named, not a superuser."""
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("uploader", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_dataset", "change_dataset", *codenames]))
    return user


@pytest.mark.django_db
def test_an_upload_by_staff_without_the_index_permission_queues_nothing(
    client, coco_subset_files, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(tasks.index_job_task, "delay", lambda *args: sent.append(args))
    client.force_login(curator_with())
    dataset = make_dataset("uploads")
    files = [SimpleUploadedFile(p.name, p.read_bytes(), "image/jpeg") for p in coco_subset_files[:2]]
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(dataset, files, client)
    assert response.status_code == 302, response.content.decode()[:2000]
    # The photos are kept, pending, for someone who may run the models over them.
    assert set(SourceImage.objects.filter(dataset=dataset).values_list("status", flat=True)) == {"pending"}
    assert not IndexingJob.objects.filter(dataset=dataset).exists() and sent == []

    client.force_login(_with_index())
    with django_capture_on_commit_callbacks(execute=True):
        again = [SimpleUploadedFile(p.name, p.read_bytes(), "image/jpeg") for p in coco_subset_files[:1]]
        assert upload(dataset, again, client).status_code == 302
    assert IndexingJob.objects.filter(dataset=dataset).count() == 1 and len(sent) == 1


def _with_index():
    from django.contrib.auth.models import Permission, User

    user = User.objects.get(username="uploader")
    user.user_permissions.add(Permission.objects.get(codename="index_dataset"))
    return User.objects.get(pk=user.pk)  # permissions are cached on the instance


@pytest.mark.django_db
def test_an_upload_into_a_dataset_being_deleted_is_refused(admin_client, coco_subset_files):
    from indexing.models import Dataset

    dataset = make_dataset("doomed")
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.DELETING)
    photo = coco_subset_files[0]
    response = upload(dataset, [SimpleUploadedFile(photo.name, photo.read_bytes(), "image/jpeg")], admin_client)
    assert response.status_code == 200
    assert "being deleted" in str(response.context["adminform"].form.errors["upload_images"])
    assert not SourceImage.objects.filter(dataset=dataset).exists()
