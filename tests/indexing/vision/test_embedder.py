"""CLIP embeddings from a test CLIP built by the make_test_clip command."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from PIL import Image

from indexing.vision.embedder import Embedder, get_embedder, reset_embedder
from indexing.vision.errors import ModelLoadError


@pytest.fixture(scope="module")
def crops(coco_images) -> list[Image.Image]:
    return [image.crop((0, 0, 200 + 20 * i, 150 + 10 * i)) for i, image in enumerate(coco_images[:5])]


def test_shapes_and_unit_norms(embedder, crops) -> None:
    images = embedder.embed_images(crops)
    texts = embedder.embed_texts(["a person", "a red car", "a book on a table"])
    assert embedder.dim == 512
    assert images.shape == (5, 512) and images.dtype == np.float32
    assert texts.shape == (3, 512) and texts.dtype == np.float32
    assert np.allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    assert embedder.embed_images([]).shape == (0, 512)


def test_batch_invariance(embedder, crops) -> None:
    # batch_size=4 in the fixture: five images span two batches.
    together = embedder.embed_images(crops)
    for index in (0, 4):
        alone = embedder.embed_images([crops[index]])[0]
        assert np.abs(alone - together[index]).max() < 1e-5
    texts = ["a dog", "a much longer description of a person holding a phone"]
    assert np.abs(embedder.embed_texts(texts[:1])[0] - embedder.embed_texts(texts)[0]).max() < 1e-5


def test_deterministic(embedder, crops, test_clip_dir) -> None:
    first = embedder.embed_images(crops[:2])
    assert np.array_equal(first, embedder.embed_images(crops[:2]))
    # A second load of the same files gives the same vectors and the same version.
    again = Embedder(test_clip_dir, device="cpu")
    assert np.abs(again.embed_images(crops[:2]) - first).max() < 1e-6
    assert again.version == embedder.version


def test_long_text_is_truncated_to_the_context(embedder) -> None:
    words = ["cat"] * 500
    # The test tokenizer spends a token per character: 30 words already exceed 77 tokens,
    # so both texts reduce to the same first 77 tokens.
    long, prefix = embedder.embed_texts([" ".join(words), " ".join(words[:30])])
    assert embedder.max_text_tokens == 77
    assert np.abs(long - prefix).max() < 1e-5
    short = embedder.embed_texts(["cat cat"])[0]
    assert np.abs(long - short).max() > 1e-3  # truncation, not a constant output


def test_version_names_the_model_and_its_files(embedder, test_clip_dir) -> None:
    name, digest = embedder.version.split("@")
    assert name == test_clip_dir.name and len(digest) == 12


def test_local_directory_goes_through_the_hub_id_path(settings, embedder, crops, test_clip_dir) -> None:
    settings.CLIP_MODEL = str(test_clip_dir)
    reset_embedder()
    try:
        from_settings = get_embedder()
        assert from_settings.model_id == str(test_clip_dir)
        assert np.abs(from_settings.embed_images(crops[:1]) - embedder.embed_images(crops[:1])).max() < 1e-6
    finally:
        reset_embedder()


def test_unreachable_or_unknown_hub_id_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError) as error:
        Embedder("visualsearch-nonexistent/clip", device="cpu", cache_dir=tmp_path)
    message = str(error.value)
    # Offline here: the hub does not answer, and the message says how to do without it.
    assert "visualsearch-nonexistent/clip" in message and "CLIP_MODEL to a local folder" in message


def test_two_threads_load_the_embedder_once(settings, test_clip_dir, caplog) -> None:
    settings.CLIP_MODEL = str(test_clip_dir)
    settings.MODEL_DEVICE = "cpu"
    reset_embedder()
    start = threading.Barrier(2)
    got: list[Embedder] = []

    def load() -> None:
        start.wait()
        got.append(get_embedder())

    try:
        with caplog.at_level(logging.INFO, logger="indexing.vision"):
            threads = [threading.Thread(target=load) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        assert len(got) == 2 and got[0] is got[1]
        loads = [r for r in caplog.records if r.getMessage().startswith("Loaded embedder")]
        assert len(loads) == 1
        assert f"from {test_clip_dir} on cpu in" in loads[0].getMessage()
    finally:
        reset_embedder()
