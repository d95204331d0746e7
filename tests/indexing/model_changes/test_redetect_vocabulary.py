"""An open-vocabulary detector: its words are the crops' labels, and another vocabulary is a redetect."""

from __future__ import annotations

import pytest

from indexing import served_models
from indexing.catalog.consistency import check_consistency
from indexing.model_changes import redetect
from indexing.model_changes.lifecycle import ChangeRefused
from indexing.models import Crop, ModelChange
from indexing.vision.detector import reset_detector
from tests.conftest import OPEN_VOCABULARY

NEW_VOCABULARY = ["umbrella", "bicycle", "coffee mug"]


@pytest.fixture
def indexed_with_words(open_vocabulary_models, coco_subset_files, fresh_index_holder, own_storage):
    """Four photos indexed by the test OWL-ViT with its three-word vocabulary."""
    from indexing.catalog import ingest
    from indexing.pipeline import jobs
    from tests.factories import make_dataset

    dataset = make_dataset("words")
    ingest.ingest_files(dataset, [(path, "") for path in coco_subset_files[:4]])
    job, ids = jobs.create_job(dataset)
    jobs.after_job(jobs.run_job(job, ids))
    return dataset


def labels_by_photo() -> dict[int, set[tuple[str, str]]]:
    """Each photo's (detector version, label) pairs among its crops."""
    found: dict[int, set[tuple[str, str]]] = {}
    for image_id, version, label in Crop.objects.values_list("image_id", "detector_version", "label"):
        found.setdefault(image_id, set()).add((version, label))
    return found


@pytest.mark.django_db(transaction=True)
def test_crops_are_labelled_with_the_vocabulary_and_a_new_vocabulary_replaces_them_at_once(
    indexed_with_words, settings
) -> None:
    old_version = served_models.detector().version
    before = labels_by_photo()
    assert len(before) == 4, "every photo has crops (random weights, confidence 0)"
    assert {label for pairs in before.values() for _, label in pairs} <= set(OPEN_VOCABULARY)
    assert {version for pairs in before.values() for version, _ in pairs} == {old_version}
    with pytest.raises(ChangeRefused, match="already detected"):
        redetect.start_redetect()  # the same weights and words: nothing to do

    settings.DETECTOR_CLASSES = NEW_VOCABULARY  # the operator changes the words (and restarts: a fresh detector)
    settings.REDETECT_BATCH_SIZE = 2
    reset_detector()
    change = redetect.start_redetect()
    assert change.version != old_version and change.version.split("+")[0] == old_version.split("+")[0]

    def mid_run(change: ModelChange) -> None:
        # Each photo's crops are all the old detector's or all the new one's, with its own words.
        for pairs in labels_by_photo().values():
            (version,) = {v for v, _ in pairs}
            words = OPEN_VOCABULARY if version == old_version else NEW_VOCABULARY
            assert {label for _, label in pairs} <= set(words)
        assert set(labels_by_photo()) == set(before)

    change = redetect.run_redetect(change_id=change.pk, progress=mid_run)
    assert change.status == ModelChange.Status.DONE and change.processed == 4
    after = labels_by_photo()
    assert {version for pairs in after.values() for version, _ in pairs} == {change.version}
    new_labels = {label for pairs in after.values() for _, label in pairs}
    assert new_labels <= set(NEW_VOCABULARY) and new_labels & {"umbrella", "bicycle"}
    assert served_models.detector().version == change.version
    assert check_consistency().ok
