"""The open-vocabulary detector (a tiny random OWL-ViT): its vocabulary's labels, query words, boxes, kinds."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from indexing.vision.detector import Detector, get_detector, load_detector, reset_detector
from indexing.vision.errors import ModelLoadError
from indexing.vision.owlvit import OpenVocabularyDetector, is_open_vocabulary
from tests.conftest import OPEN_VOCABULARY


@pytest.fixture(scope="session")
def owl(test_owlvit_dir: Path) -> OpenVocabularyDetector:
    # Confidence 0: random weights score nothing high, and the plumbing is what is tested.
    return OpenVocabularyDetector(test_owlvit_dir, classes=OPEN_VOCABULARY, device="cpu", confidence=0.0)


@pytest.fixture(scope="session")
def photos(coco_images: list[Image.Image]) -> list[Image.Image]:
    landscape = next(image for image in coco_images if image.width > image.height)
    portrait = next(image for image in coco_images if image.height > image.width)
    return [landscape, portrait, coco_images[0].convert("L")]


def test_labels_are_the_vocabulary_and_boxes_lie_in_the_photo_best_first(owl, photos) -> None:
    assert owl.labels == tuple(OPEN_VOCABULARY) and owl.open_vocabulary and not Detector.open_vocabulary
    found = owl.detect(photos)
    assert len(found) == len(photos)
    for photo, detections in zip(photos, found, strict=True):
        assert detections and {d.label for d in detections} <= set(OPEN_VOCABULARY)
        assert [d.confidence for d in detections] == sorted((d.confidence for d in detections), reverse=True)
        for d in detections:
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 <= x2 <= photo.width and 0 <= y1 <= y2 <= photo.height
    assert {d.label for detections in found for d in detections} == set(OPEN_VOCABULARY)


def rounded(detections: list) -> list[tuple]:
    """Detections to compare across calls: a batch's float sums (or a longer list of query texts) differ
    from one photo's in the last bits of a float32 (BLAS blocks them otherwise), never in what was found."""
    return [(d.label, round(d.confidence, 5), tuple(round(v, 2) for v in d.box)) for d in detections]


def test_a_photo_gets_the_same_detections_alone_as_in_a_batch(owl, photos) -> None:
    assert [rounded(found) for found in owl.detect(photos)] == [rounded(owl.detect([p])[0]) for p in photos]


def test_a_query_word_outside_the_vocabulary_finds_boxes_labelled_with_it(owl, photos) -> None:
    plain = owl.detect(photos[:1])[0]
    found = owl.detect(photos[:1], words=["bicycle", "  Coffee   MUG "])[0]
    labels = {d.label for d in found}
    # The new word has boxes of its own; a vocabulary word asked again in another spelling adds nothing.
    assert "bicycle" in labels and labels <= {*OPEN_VOCABULARY, "bicycle"}
    assert rounded([d for d in found if d.label != "bicycle"]) == rounded(plain)
    assert rounded(owl.detect(photos[:1])[0]) == rounded(plain)  # the word is not kept in the vocabulary


def test_the_kind_is_read_from_detector_weights(test_owlvit_dir, test_clip_dir, yolov5n_weights) -> None:
    assert is_open_vocabulary(str(test_owlvit_dir))
    assert is_open_vocabulary("google/owlv2-base-patch16-ensemble") and is_open_vocabulary("google/owlvit-base-patch32")
    for spec in (yolov5n_weights, test_clip_dir, "yolov5s.pt", "runs:/abc/weights/best.pt", "models:/owlvit/1"):
        assert not is_open_vocabulary(str(spec)), spec


def test_the_factory_gives_an_open_vocabulary_detector_versioned_by_its_files_and_words(
    settings, test_owlvit_dir
) -> None:
    settings.DETECTOR_WEIGHTS = str(test_owlvit_dir)
    settings.DETECTOR_CLASSES = list(OPEN_VOCABULARY)
    reset_detector()
    try:
        served = get_detector()
        assert isinstance(served, OpenVocabularyDetector) and served.labels == tuple(OPEN_VOCABULARY)
        name, rest = served.version.split("@")
        assert name == test_owlvit_dir.name and len(rest.split("+")[0]) == 12 and "+classes3-" in rest
        settings.DETECTOR_CLASSES = ["backpack", "umbrella", "coffee mug"]
        assert load_detector(str(test_owlvit_dir)).version.split("+")[0] == served.version.split("+")[0]
        assert load_detector(str(test_owlvit_dir)).version != served.version  # another vocabulary: a redetect
    finally:
        reset_detector()


def test_all_classes_is_refused_for_an_open_vocabulary_detector(test_owlvit_dir) -> None:
    with pytest.raises(ModelLoadError, match="no fixed classes"):
        OpenVocabularyDetector(test_owlvit_dir, classes=["all"], device="cpu")


def test_a_hub_model_that_cannot_load_offline_is_a_clear_error(settings, tmp_path) -> None:
    settings.MODEL_CACHE_DIR = tmp_path
    with pytest.raises(ModelLoadError) as error:
        load_detector("visualsearch-nonexistent/owlvit-base")
    assert "visualsearch-nonexistent/owlvit-base" in str(error.value) and "DETECTOR_WEIGHTS" in str(error.value)


def test_an_owlv2_model_works_the_same_way(tmp_path, photos) -> None:
    from django.core.management import call_command

    call_command("make_test_owlvit", str(tmp_path / "owlv2"), kind="owlv2", verbosity=0)
    assert is_open_vocabulary(str(tmp_path / "owlv2"))
    owlv2 = OpenVocabularyDetector(tmp_path / "owlv2", classes=OPEN_VOCABULARY, device="cpu", confidence=0.0)
    assert owlv2.square_padded and owlv2.labels == tuple(OPEN_VOCABULARY)
    found = owlv2.detect(photos[:2], words=["bicycle"])
    for photo, detections in zip(photos[:2], found, strict=True):
        assert {d.label for d in detections} <= {*OPEN_VOCABULARY, "bicycle"} and detections
        assert all(
            0 <= d.box[0] <= d.box[2] <= photo.width and 0 <= d.box[1] <= d.box[3] <= photo.height for d in detections
        )
    alone = [rounded(owlv2.detect([photo], words=["bicycle"])[0]) for photo in photos[:2]]
    assert [rounded(detections) for detections in found] == alone
