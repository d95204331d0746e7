"""Descriptions end to end: a real indexing job (yolov5n, test CLIP) whose hook asks a real HTTP endpoint.

The endpoint is tests/vlm_stub.py (http.server on loopback); tasks run eagerly, as in
the demo. What a user sees: the words on the crop page and found by a text search;
and with the endpoint dead, the job indexed and searchable all the same, the description
run failed with the reason.
"""

from __future__ import annotations

import pytest

from indexing.models import Crop, Description, DescriptionRun, IndexingJob
from indexing.vision.describe import reset_describers
from search.query import services
from tests.search.conftest import index_files
from tests.vlm_stub import closed_port_url, running_stub

WORDS = {"person": "a pedestrian in a yellow raincoat", "car": "a dented turquoise hatchback"}


@pytest.fixture
def describing(settings):
    settings.DESCRIPTIONS_ENABLED = True
    settings.DESCRIPTIONS_BACKEND = "openai"
    settings.DESCRIPTIONS_MODEL = "stub-vlm"
    settings.DESCRIPTIONS_TIMEOUT_SECONDS = 5.0
    reset_describers()
    yield settings
    reset_describers()


def label_of(prompt: str) -> str:
    return next((label for label in WORDS if label in prompt), "thing")


def test_descriptions_made_after_indexing_are_stored_with_their_model_and_shown(
    db, real_models, coco_subset_files, describing, client, django_capture_on_commit_callbacks
):
    with running_stub() as stub:
        stub.answer = lambda prompt, has_image: WORDS.get(label_of(prompt), "an object")
        describing.DESCRIPTIONS_API_URL = stub.url
        with django_capture_on_commit_callbacks(execute=True):
            dataset = index_files(coco_subset_files[:3])
    crops = Crop.objects.filter(image__dataset=dataset)
    assert crops.exists()
    assert Description.objects.filter(crop__in=crops).count() == crops.count()
    assert set(Description.objects.values_list("model", flat=True)) == {f"openai:stub-vlm@{stub.url}"}
    assert DescriptionRun.objects.filter(status=DescriptionRun.Status.DONE).exists()
    described = Description.objects.select_related("crop").first()
    page = client.get(f"/crops/{described.crop_id}")
    assert described.text in page.content.decode()
    assert f"openai:stub-vlm@{stub.url}" in page.content.decode()
    datasets_page = client.get("/datasets").content.decode()
    assert f"{crops.count()} of {crops.count()} objects described" in datasets_page
    # Searchable by words: with fusion on, the described people come first, and say why.
    describing.SEARCH_TEXT_FUSION = "rrf"
    found = services.search_text_page("yellow raincoat", k=3).results
    people = set(crops.filter(label="person").values_list("pk", flat=True))
    assert people and found[0].crop_id in people
    assert found[0].ranked_by in ("both", "text") and found[0].text_rank is not None
    answer = client.post("/api/search/text", {"query": "yellow raincoat", "k": 3}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    first = answer.json()["results"][0]
    assert (first["crop_id"], first["text_rank"]) == (found[0].crop_id, found[0].text_rank)
    assert first["ranked_by"] in ("both", "text") and first["fused_score"] > 0


def test_a_dead_endpoint_fails_the_description_run_alone_and_search_keeps_working(
    db, real_models, coco_subset_files, describing, django_capture_on_commit_callbacks
):
    describing.DESCRIPTIONS_API_URL = url = closed_port_url()
    with django_capture_on_commit_callbacks(execute=True):
        dataset = index_files(coco_subset_files[:3])
    job = IndexingJob.objects.get(dataset=dataset)
    assert job.status == IndexingJob.Status.DONE and job.error == ""
    failed = DescriptionRun.objects.filter(status=DescriptionRun.Status.FAILED)
    assert failed.exists()
    assert all(f"{url}/chat/completions could not be reached" in run.error for run in failed)
    assert not Description.objects.exists()
    assert services.search_text("a person", k=3)  # the collection searches as before
    describing.SEARCH_TEXT_FUSION = "rrf"  # and with fusion on: no words to match, the vectors alone rank
    assert {r.ranked_by for r in services.search_text("a person", k=3)} == {"vector"}
