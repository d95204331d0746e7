"""Description runs: stored with their model and prompt, resumable, and a dead or slow model fails the run alone."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from indexing.descriptions import runs
from indexing.models import Crop, Description, DescriptionPrompt, DescriptionRun
from tests.indexing.descriptions.conftest import crops_with_files
from tests.vlm_stub import closed_port_url


def test_the_local_captioner_describes_each_crop_once_with_its_model_and_prompt(db, local_blip):
    crops = crops_with_files(3)
    record = runs.run(Crop.objects.all())
    assert (record.status, record.described, record.total) == (DescriptionRun.Status.DONE, 3, 3)
    stored = list(Description.objects.order_by("crop_id"))
    assert [d.crop_id for d in stored] == [c.pk for c in crops]
    assert all(d.text and d.model == record.model for d in stored)
    assert record.model.startswith("local:test-blip@")
    assert stored[0].prompt == "a photo of a person,"  # BLIP's own prompt: the caption's first words
    assert stored[1].prompt == "a photo of a car,"
    # Resumable: a second run finds nothing left for this model.
    again = runs.run(Crop.objects.all())
    assert (again.status, again.total, again.described) == (DescriptionRun.Status.DONE, 0, 0)
    assert Description.objects.count() == 3


def test_an_openai_compatible_endpoint_is_asked_with_the_image_and_the_labels_prompt(db, stub_vlm):
    DescriptionPrompt.objects.create(label="car", prompt="Name the make and colour of this {label}.")
    DescriptionPrompt.objects.create(label="", prompt="Describe this {label} briefly.")
    stub_vlm.answer = lambda prompt, has_image: f"{'seen' if has_image else 'blind'}: {prompt}"
    crops_with_files(2)
    record = runs.run(Crop.objects.all())
    assert record.status == DescriptionRun.Status.DONE, record.error
    assert record.model == f"openai:stub-vlm@{stub_vlm.url}"
    texts = dict(Description.objects.values_list("crop__label", "text"))
    assert texts == {
        "person": "seen: Describe this person briefly.",
        "car": "seen: Name the make and colour of this car.",
    }
    sent = stub_vlm.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer sk-test"
    assert sent["body"]["model"] == "stub-vlm"


def test_a_dead_endpoint_fails_the_run_with_its_reason_and_stores_nothing(db, settings, stub_vlm):
    settings.DESCRIPTIONS_API_URL = url = closed_port_url()
    crops_with_files(2)
    record = runs.run(Crop.objects.all())
    assert record.status == DescriptionRun.Status.FAILED
    assert f"The description endpoint {url}/chat/completions could not be reached" in record.error
    assert record.finished is not None
    assert not Description.objects.exists()


def test_a_slow_endpoint_fails_the_run_after_the_timeout(db, settings, stub_vlm):
    settings.DESCRIPTIONS_TIMEOUT_SECONDS = 0.3
    stub_vlm.delay = 1.5
    crops_with_files(1)
    record = runs.run(Crop.objects.all())
    assert record.status == DescriptionRun.Status.FAILED
    assert "did not answer in 0.3 s" in record.error


def test_the_command_resumes_where_a_limited_run_stopped(db, stub_vlm, capsys):
    crops_with_files(3)
    call_command("describe_crops", "--limit", "2")
    assert Description.objects.count() == 2
    call_command("describe_crops", "--dataset", "described")
    assert Description.objects.count() == 3
    assert len(stub_vlm.requests) == 3  # nothing asked twice
    assert "Described 1 crop(s)" in capsys.readouterr().out


def test_the_command_says_why_a_run_failed(db, settings, stub_vlm):
    settings.DESCRIPTIONS_API_URL = closed_port_url()
    crops_with_files(1)
    with pytest.raises(CommandError, match="could not be reached.*Run the command again to resume"):
        call_command("describe_crops")


def test_an_endpoint_error_and_a_missing_model_fail_the_run_with_their_reason(db, settings, stub_vlm, tmp_path):
    crops_with_files(1)
    settings.DESCRIPTIONS_API_URL = stub_vlm.url.removesuffix("/v1") + "/nowhere"  # answers 404
    record = runs.run(Crop.objects.all())
    assert record.status == DescriptionRun.Status.FAILED
    assert "/nowhere/chat/completions answered HTTP 404" in record.error
    settings.DESCRIPTIONS_BACKEND, settings.DESCRIPTIONS_MODEL = "local", str(tmp_path / "no-such-model")
    record = runs.run(Crop.objects.all())
    assert record.status == DescriptionRun.Status.FAILED
    assert f"The captioning model '{tmp_path / 'no-such-model'}' could not be loaded" in record.error
    settings.DESCRIPTIONS_BACKEND = "gpt"
    assert "DESCRIPTIONS_BACKEND is 'gpt'; use one of local, openai" in runs.run(Crop.objects.all()).error
