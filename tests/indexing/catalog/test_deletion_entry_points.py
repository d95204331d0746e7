"""Dataset deletion from the admin, the command and the datasets page: each one call into the service."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command

from indexing.ann import builds
from indexing.catalog import deletion
from indexing.catalog.consistency import check_consistency, index_ids
from indexing.models import Crop, Dataset
from tests.indexing.catalog.conftest import stored_under

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_storage")]


def test_the_admin_delete_page_goes_through_the_service(two_datasets, admin_client, django_capture_on_commit_callbacks):
    kept, doomed = two_datasets
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/indexing/dataset/{doomed.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Dataset.objects.filter(pk=doomed.pk).exists()
    assert stored_under(doomed.pk) == []
    ids = set(index_ids(builds.load_build(builds.latest_ready_build())).tolist())
    assert ids == set(Crop.objects.values_list("pk", flat=True))
    response = admin_client.get("/admin/indexing/dataset/")
    assert b"delete_selected" not in response.content and b"delete_with_files" in response.content


def test_an_admin_delete_whose_file_deletion_fails_keeps_rows_and_files_consistent(
    two_datasets, admin_client, django_capture_on_commit_callbacks, monkeypatch
):
    kept, doomed = two_datasets
    from django.core.files.storage import FileSystemStorage

    real_delete, calls = FileSystemStorage.delete, []

    def flaky_delete(storage, name):  # media storage fails after a few files (a bucket that stops answering)
        if name.startswith(("images/", "crops/")):
            calls.append(name)
            if len(calls) > 3:
                raise OSError("storage unavailable")
        real_delete(storage, name)

    monkeypatch.setattr(FileSystemStorage, "delete", flaky_delete)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/indexing/dataset/{doomed.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert len(calls) > 3  # files were being deleted when the storage failed
    # The rows went (committed) before any file: no row names a missing file, the kept dataset is whole.
    assert not Dataset.objects.filter(pk=doomed.pk).exists()
    report = check_consistency()
    assert report.rows_without_files == []
    assert set(report.files_without_rows) and all(f"/{doomed.pk}/" in name for name in report.files_without_rows)
    # The files left over are the deleted dataset's, under its prefixes: the next sweep takes them.
    monkeypatch.setattr(FileSystemStorage, "delete", real_delete)
    deletion.sweep(doomed.pk)
    assert stored_under(doomed.pk) == [] and check_consistency().ok


def test_an_admin_delete_that_fails_inside_its_transaction_deletes_no_file(two_datasets, admin_client, monkeypatch):
    kept, doomed = two_datasets
    before = stored_under(doomed.pk)

    def fail(**kwargs):
        raise RuntimeError("the index build failed")

    monkeypatch.setattr(deletion, "refresh_served_index", fail)
    with pytest.raises(RuntimeError):
        admin_client.post(f"/admin/indexing/dataset/{doomed.pk}/delete/", {"post": "yes"})
    # The admin's transaction rolled back: the rows are back, and so is every file they name.
    assert Dataset.objects.filter(pk=doomed.pk).exists() and doomed.images.count() == 5
    assert stored_under(doomed.pk) == before and check_consistency().ok


def test_the_command_names_a_dataset_by_name_and_version(two_datasets):
    kept, doomed = two_datasets
    call_command("delete_dataset", "doomed:version_1")
    assert list(Dataset.objects.values_list("name", flat=True)) == ["kept"]
    with pytest.raises(Exception, match="There is no dataset"):
        call_command("delete_dataset", "doomed:version_1")


# --- End to end: a real Celery worker on Redis ----------------------------------------


def test_the_datasets_page_gives_staff_a_delete_button_and_shows_a_deletion_in_progress(
    two_datasets, client, django_capture_on_commit_callbacks
):
    kept, doomed = two_datasets
    assert b"Delete dataset" not in client.get("/datasets").content
    assert client.post(f"/datasets/{doomed.pk}/delete").status_code == 403
    user = User.objects.create_user("deleter", password="x" * 12, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="delete_dataset"))
    client.force_login(user)
    page = client.get("/datasets").content.decode()
    assert page.count("Delete dataset") == 2 and f'action="/datasets/{doomed.pk}/delete"' in page

    # A deletion stopped after 2 of its 5 photos: the page says how far it got, and offers no button.
    deletion.mark_for_deletion(doomed)
    deletion.delete_images(list(doomed.images.order_by("id").values_list("id", flat=True)[:2]))
    page = client.get("/datasets").content.decode()
    assert "Deleting: 3 of 5 photos left" in page and page.count("Delete dataset") == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/datasets/{doomed.pk}/delete", follow=True)
    assert f"Deleted {doomed}." in response.content.decode()
    assert not Dataset.objects.filter(pk=doomed.pk).exists() and stored_under(doomed.pk) == []
