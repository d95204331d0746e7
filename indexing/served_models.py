"""Which CLIP and which detector the collection is made with: what queries and new crops must use.

A model change (indexing.model_changes.reembed, indexing.model_changes.redetect) is recorded as a ModelChange row:
- the embedder is the one of the newest finished re-embed, or settings.CLIP_MODEL
  when none has finished. Queries and new crops use it, so search only ever compares
  vectors of one model; a re-embed switches it in the same transaction that gives
  every crop its new vector;
- the detector is the one of the newest redetect not failed, or the configured weights:
  photos added while a redetect runs are detected with the new weights at once.
Every process reads this from the database, so a switch reaches the web and the
workers without a restart; the lookup is one indexed query.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from indexing.models import Crop, ModelChange
from indexing.vision.classes import ALL_CLASSES
from indexing.vision.detector import Detector, get_detector, release_detectors
from indexing.vision.embedder import Embedder, get_embedder, loaded_embedders, release_embedders

logger = logging.getLogger(__name__)


class ModelChanged(RuntimeError):
    """A batch was made with a model the collection no longer uses (a switch committed meanwhile)."""


def served_embedder_change() -> ModelChange | None:
    """The newest finished re-embed, or None while CLIP_MODEL has served from the start."""
    done = ModelChange.objects.filter(kind=ModelChange.Kind.EMBEDDER, status=ModelChange.Status.DONE)
    return done.order_by("-finished", "-pk").first()


def served_detector_change() -> ModelChange | None:
    """The newest redetect that has not failed (running ones included), or None."""
    changes = ModelChange.objects.filter(kind=ModelChange.Kind.DETECTOR).exclude(status=ModelChange.Status.FAILED)
    return changes.order_by("-created", "-pk").first()


def embedder() -> Embedder:
    """The CLIP every query and every new crop is embedded with."""
    change = served_embedder_change()
    model = get_embedder(change.source if change else None)
    if change is not None and len(loaded_embedders()) > 1:
        # Once switched, the old model is no use to this process: give its memory back.
        release_embedders(keep={change.source, *open_change_sources(ModelChange.Kind.EMBEDDER)})
    return model


def detector() -> Detector:
    """The detector new photos (and query photos) are detected with."""
    change = served_detector_change()
    model = get_detector(change.source if change else None)
    if change is not None:
        release_detectors(keep={change.source})
    return model


def served_classes() -> tuple[str, ...]:
    """The labels the collection's detector gives: what filters, forms and messages offer.

    A list in DETECTOR_CLASSES is the labels as they are (no model is loaded for it: a text
    search never waits on the detector); ``all`` is every class of the served detector's
    checkpoint, so it is read from that detector, loaded once per process.
    """
    configured = tuple(settings.DETECTOR_CLASSES)
    if [name.strip().lower() for name in configured] != [ALL_CLASSES]:
        return configured
    return detector().labels


def open_change_sources(kind: str) -> set[str]:
    running = ModelChange.objects.filter(kind=kind, status__in=[ModelChange.Status.QUEUED, ModelChange.Status.RUNNING])
    return set(running.values_list("source", flat=True))


def require_served(*, embedder_version: str, detector_version: str) -> None:
    """In the store step's transaction (after its store lock): refuse crops made by models no longer served.

    A re-embed's switch holds the store lock alone while it commits, so a batch that
    embedded its crops before the switch and stores after it is caught here, and made
    again with the new model (indexing.pipeline.batch), instead of mixing two models' vectors.
    """
    assert transaction.get_connection().in_atomic_block, "call inside the store transaction"
    change = served_embedder_change()
    if change is not None and change.version != embedder_version:
        raise ModelChanged(f"crops embedded by {embedder_version}, but {change.version} is served now")
    change = served_detector_change()
    if change is not None and change.version and change.version != detector_version:
        raise ModelChanged(f"crops detected by {detector_version}, but {change.version} is used now")


def served_embedder_version() -> str:
    """The version stamped by the served embedder, read without loading it (index builds need only this).

    With no re-embed on record, every crop was made by CLIP_MODEL: the newest crop's
    stamp says which version that is ("" before the first crop).
    """
    change = served_embedder_change()
    if change is not None:
        return change.version
    newest = Crop.objects.order_by("-pk").values_list("embedder_version", flat=True).first()
    return newest or ""


def switching_to() -> set[str]:
    """The new embedder versions of open re-embeds: their index builds wait for the switch."""
    open_changes = ModelChange.objects.filter(kind=ModelChange.Kind.EMBEDDER).exclude(status=ModelChange.Status.DONE)
    return set(open_changes.values_list("version", flat=True))
