"""Descriptions in the admin: prompts edited per label; descriptions and runs shown, never edited."""

from __future__ import annotations

from indexing.models import Description, DescriptionPrompt, DescriptionRun
from tests.factories import make_crop, make_dataset, make_image, unit_vectors


def test_staff_edit_the_prompt_of_a_label(admin_client, db):
    answer = admin_client.post(
        "/admin/indexing/descriptionprompt/add/", {"label": "car", "prompt": "Name the make of this {label}."}
    )
    assert answer.status_code == 302, answer.content
    prompt = DescriptionPrompt.objects.get(label="car")
    assert admin_client.get(f"/admin/indexing/descriptionprompt/{prompt.pk}/change/").status_code == 200
    assert admin_client.get("/admin/indexing/descriptionprompt/").status_code == 200


def test_descriptions_and_runs_are_shown_read_only(admin_client, db):
    crop = make_crop(make_image(make_dataset()), unit_vectors(1)[0])
    description = Description.objects.create(crop=crop, text="a red car", model="stub", prompt="p")
    run = DescriptionRun.objects.create(model="stub", status=DescriptionRun.Status.FAILED, error="refused")
    for path in ("description", "descriptionrun"):
        listing = admin_client.get(f"/admin/indexing/{path}/")
        assert listing.status_code == 200
        assert admin_client.get(f"/admin/indexing/{path}/add/").status_code == 403
    assert "a red car" in admin_client.get("/admin/indexing/description/").content.decode()
    assert "refused" in admin_client.get("/admin/indexing/descriptionrun/").content.decode()
    assert admin_client.get(f"/admin/indexing/description/{description.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/indexing/descriptionrun/{run.pk}/change/").status_code == 200


def test_anonymous_is_sent_to_login(client, db):
    assert client.get("/admin/indexing/descriptionprompt/").status_code == 302
