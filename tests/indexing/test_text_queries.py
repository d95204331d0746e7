"""Queries in any language: a multilingual text encoder beside the CLIP it is aligned to, and refused beside another.

The encoder is a tiny random one (make_test_text_encoder), built offline; the crops are real
COCO128 photos detected by the real yolov5n and embedded by the test CLIP.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from indexing.models import Crop
from indexing.text_queries import TextEncoderMismatch, alignment_problem, is_aligned, text_encoder_problem
from indexing.vision.errors import ModelLoadError
from indexing.vision.text_encoder import ALIGNMENT_FILE, TextEncoder, get_text_encoder, reset_text_encoders
from search.query import services
from tests.search.conftest import index_files

KOREAN_QUERY = "빨간 자동차"  # "a red car"


@pytest.fixture
def indexed_sample(db, real_models, coco_subset_files, fresh_index_holder):
    index_files(coco_subset_files[:4])


def test_a_korean_query_searches_the_same_index_with_the_multilingual_encoder(indexed_sample, multilingual_queries):
    results = services.search_text(KOREAN_QUERY, k=5)
    assert len(results) == 5
    # The scores are the encoder's own vector against the stored crops: the query went through it, not CLIP's tower.
    query = get_text_encoder().embed_texts([KOREAN_QUERY])[0]
    stored = dict(Crop.objects.values_list("pk", "embedding"))
    for result in results:
        assert result.score == pytest.approx(float(np.dot(query, np.asarray(stored[result.crop_id]))), abs=1e-4)
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)


def test_the_encoder_tokenizes_korean_and_writes_unit_vectors_of_the_clip_size(multilingual_queries):
    encoder = get_text_encoder()
    assert "[UNK]" not in encoder.model.tokenizer.tokenize(KOREAN_QUERY)
    vectors = encoder.embed_texts([KOREAN_QUERY, "ein rotes Auto", "a red car"])
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])


def test_an_encoder_aligned_to_another_image_model_is_refused_in_one_sentence(
    indexed_sample, multilingual_queries, tmp_path, settings, client
):
    other = tmp_path / "other-encoder"
    call_command("make_test_text_encoder", str(other), aligned_to="openai/clip-vit-large-patch14")
    settings.TEXT_ENCODER = str(other)
    reset_text_encoders()
    with pytest.raises(TextEncoderMismatch) as refused:
        services.search_text(KOREAN_QUERY, k=5)
    message = str(refused.value)
    assert "aligned to openai/clip-vit-large-patch14" in message and "test-clip@" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert str(other) not in message  # models are named, not this machine's paths
    # The API and the page answer 503 with that sentence, for any reader.
    answer = client.post("/api/search/text", {"query": KOREAN_QUERY}, content_type="application/json")
    assert answer.status_code == 503 and message in answer.json()["error"]
    assert "aligned to openai/clip-vit-large-patch14" in text_encoder_problem()  # /healthz, loading nothing


def test_a_version_must_match_exactly_and_a_model_id_by_name():
    assert is_aligned("test-clip@abc", "test-clip@abc")
    assert not is_aligned("test-clip@abc", "test-clip@abd")
    assert is_aligned("openai/clip-vit-base-patch32", "openai/clip-vit-base-patch32@0123456789ab")
    assert is_aligned("openai/clip-vit-base-patch32", "clip-vit-base-patch32@fedcba987654")  # a local copy
    assert not is_aligned("openai/clip-vit-base-patch32", "openai/clip-vit-large-patch14@0123456789ab")
    assert not is_aligned("", "anything")
    assert "does not say which image model" in alignment_problem("enc", "", "test-clip@abc")


def test_the_hub_encoder_is_known_to_be_aligned_to_vit_b_32(settings):
    from indexing.vision.text_encoder import alignment_of

    settings.TEXT_ENCODER_ALIGNED_TO = ""
    aligned_to = alignment_of("sentence-transformers/clip-ViT-B-32-multilingual-v1")
    assert is_aligned(aligned_to, "openai/clip-vit-base-patch32@0123456789ab")
    settings.TEXT_ENCODER_ALIGNED_TO = "openai/clip-vit-large-patch14"  # the setting wins
    assert alignment_of("sentence-transformers/clip-ViT-B-32-multilingual-v1") == "openai/clip-vit-large-patch14"


def test_manage_py_check_refuses_a_mismatch_and_passes_a_match(
    settings, test_clip_dir, test_text_encoder_dir, tmp_path
):
    settings.CLIP_MODEL = str(test_clip_dir)
    settings.TEXT_ENCODER = str(test_text_encoder_dir)
    call_command("check")
    other = tmp_path / "other"
    other.mkdir()
    (other / ALIGNMENT_FILE).write_text(json.dumps({"image_model": "openai/clip-vit-large-patch14"}))
    settings.TEXT_ENCODER = str(other)
    with pytest.raises(SystemCheckError, match="aligned to openai/clip-vit-large-patch14"):
        call_command("check")


def test_missing_weights_offline_are_a_model_load_error_that_names_the_setting(settings, tmp_path, monkeypatch):
    from indexing.vision.weights import downloads

    settings.MODEL_CACHE_DIR = tmp_path / "models"
    monkeypatch.setattr(downloads, "_reason_unreachable", lambda url: "the host does not answer")
    downloads.forget_verdicts()
    try:
        with pytest.raises(ModelLoadError, match="Cannot download the text encoder .* set TEXT_ENCODER"):
            TextEncoder("sentence-transformers/clip-ViT-B-32-multilingual-v1", device="cpu")
    finally:
        downloads.forget_verdicts()
