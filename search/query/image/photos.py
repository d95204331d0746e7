"""A query photo: decoded once, its most confident objects cropped, embedded.

A model that raises on one photo (an odd size, a numeric corner case) makes that
photo unsearchable, answered as a 422 that says so; the traceback goes to the log.
ModelLoadError is different, no photo can be searched: it propagates (a 503).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image

from indexing import served_models
from indexing.vision.crops import CropPolicy, PlannedCrop, crop_box, plan_crops
from indexing.vision.detector import Detection
from indexing.vision.errors import ImageError, ModelLoadError
from indexing.vision.images import load_image
from search.query.errors import PhotoNotSearchable, SearchInputError
from search.query.image.words import check_detector_takes_words

logger = logging.getLogger(__name__)


@dataclass
class FoundObjects:
    crops: list[PlannedCrop]  # searched: at most SEARCH_MAX_QUERY_OBJECTS, most confident first
    found: int  # objects the detector found and the crop policy kept, before the cap
    others: list[Detection] = field(default_factory=list)  # the rest, not searched (box, label, confidence)

    @property
    def left_out(self) -> int:
        return self.found - len(self.crops)


def decode(data: bytes) -> Image.Image:
    """The photo as upright 8-bit RGB; anything Pillow cannot turn into that is a 400."""
    try:
        return load_image(data)
    except ImageError as exc:
        raise SearchInputError(str(exc)) from exc


@contextmanager
def model_step(step: str) -> Iterator[None]:
    """Turn an exception of a model on this photo into PhotoNotSearchable."""
    try:
        yield
    except ModelLoadError:
        raise
    except Exception as exc:  # whatever the model raises, it raised on this photo
        logger.exception("The %s failed on a query photo", step)
        raise PhotoNotSearchable(
            _(
                "This photo could not be searched: the %(step)s failed on it (%(error)s). "
                "Try another photo, or this one saved at a different size."
            )
            % {"step": step, "error": type(exc).__name__}
        ) from exc


def find_objects(image: Image.Image, *, words: Sequence[str] = ()) -> FoundObjects:
    """Every object the detector found, the SEARCH_MAX_QUERY_OBJECTS most confident to be searched.

    ``words`` (search.query.image.words, parsed) are looked for too, by an open-vocabulary
    detector only; a detector with fixed classes refuses them (a 400).

    Every searched object costs a crop, an embedding and a vector search: a crowd photo
    with 48 people would hold a worker for each of them, so the cap applies before
    cropping. The detection itself is paid for already: the others come back as found
    (box, label, confidence), for the page to draw and a click to search as a region.
    """
    detector, policy = served_models.detector(), CropPolicy.from_settings()  # a load failure stays a 503
    check_detector_takes_words(detector, words)
    with model_step("object detector"):
        detections = detector.detect([image], words=words)[0] if words else detector.detect([image])[0]
    usable = [d for d in detections if crop_box(d.box, image.size, policy) is not None]
    usable.sort(key=lambda d: d.confidence, reverse=True)
    cap = settings.SEARCH_MAX_QUERY_OBJECTS
    return FoundObjects(plan_crops(image, usable[:cap], policy), len(usable), usable[cap:])


def embed(pixels: Sequence[Image.Image]) -> tuple[np.ndarray, str]:
    """The pixels' vectors, and the version of the model that made them (search compares only its own)."""
    embedder = served_models.embedder()
    with model_step("image embedder"):
        return embedder.embed_images(pixels), embedder.version


def preview(image: Image.Image, max_side: int) -> Image.Image:
    """Shrink ``image`` in place for display: called last, it reuses the one decoded copy."""
    image.thumbnail((max_side, max_side))
    return image
