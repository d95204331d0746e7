"""Describe crops: a run over the crops no description of this model has yet, step by step.

Resumable by construction: each step describes the next crops without a description by
the describer's version and commits them, so a run stopped part way (a dead worker, a
failed endpoint) and started again skips what is done. A describer that fails ends the
run ``failed`` with its reason and raises nothing: indexing and search never wait on it.

With DESCRIPTIONS_WHOLE_PHOTOS, each step describes the photos of its crops too, as a
whole (one description per photo and model, the photo at most PHOTO_SIDE pixels a side):
the run's counts are of crops, and a photo is described with its first crop's step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from PIL import Image

from indexing.descriptions.prompts import Prompts
from indexing.models import Crop, Dataset, Description, DescriptionRun, SourceImage
from indexing.vision import describe
from indexing.vision.describe import Describer, DescriberError
from indexing.vision.errors import ImageError
from indexing.vision.images import load_image

logger = logging.getLogger(__name__)

# A whole photo goes to the describer at most this many pixels a side: one request's size is bounded,
# and a vision-language model reads a few hundred pixels a side anyway.
PHOTO_SIDE = 1024


def undescribed(crops: QuerySet[Crop], model: str) -> QuerySet[Crop]:
    """The active ones of ``crops`` that ``model`` has not described, in id order."""
    done = Description.objects.filter(crop=OuterRef("pk"), model=model)
    return crops.filter(is_active=True).exclude(Exists(done)).order_by("id")


def describe_images(image_ids: Sequence[int]) -> DescriptionRun:
    """The crops of these photos (a batch just indexed): the hook's task."""
    crops = Crop.objects.filter(image_id__in=list(image_ids))
    dataset = Dataset.objects.filter(images__id__in=list(image_ids)[:1]).first()
    return run(crops, dataset=dataset)


def run(
    crops: QuerySet[Crop],
    *,
    dataset: Dataset | None = None,
    describer: Describer | None = None,
    limit: int | None = None,
    progress=None,
) -> DescriptionRun:
    """Describe ``crops`` (at most ``limit``) not yet described by the describer; the run's record.

    ``progress(run)`` is called after each committed step (the command prints it).
    """
    record = DescriptionRun.objects.create(dataset=dataset)
    try:
        describer = describer or describe.configured()
        record.model = describer.version
        todo = undescribed(crops, describer.version)
        record.total = todo.count() if limit is None else min(limit, todo.count())
        record.save(update_fields=["model", "total"])
        prompts = Prompts(describer)
        size = max(1, settings.DESCRIPTIONS_BATCH_SIZE)
        last_id = 0
        while record.described < record.total:
            step = list(todo.filter(pk__gt=last_id).select_related(None)[: min(size, record.total - record.described)])
            if not step:
                break
            last_id = step[-1].pk
            record.described += describe_step(step, describer, prompts)
            if settings.DESCRIPTIONS_WHOLE_PHOTOS:
                describe_photos({crop.image_id for crop in step}, describer)
            DescriptionRun.objects.filter(pk=record.pk).update(described=record.described)
            if progress is not None:
                progress(record)
    except DescriberError as exc:
        return finish(record, DescriptionRun.Status.FAILED, str(exc))
    except Exception as exc:  # any other failure is the run's alone, with its reason
        logger.exception("Description run %s failed", record.pk)
        return finish(record, DescriptionRun.Status.FAILED, f"{type(exc).__name__}: {exc}")
    return finish(record, DescriptionRun.Status.DONE, "")


def describe_step(crops: list[Crop], describer: Describer, prompts: Prompts) -> int:
    """Describe one step's crops and store the words; how many were stored (a crop file gone is skipped)."""
    pixels: list[Image.Image] = []
    kept: list[Crop] = []
    for crop in crops:
        try:
            with crop.file.open("rb") as handle:
                pixels.append(load_image(handle.read()))
            kept.append(crop)
        except (OSError, ValueError, ImageError) as exc:
            logger.warning("Crop %s has no readable file (%s); not described", crop.pk, exc)
    asked = [prompts.for_label(crop.label) for crop in kept]
    texts = describer.describe(pixels, asked)
    rows = [
        Description(crop=crop, text=text, model=describer.version, prompt=prompt)
        for crop, text, prompt in zip(kept, texts, asked, strict=True)
        if text
    ]
    # A crop described meanwhile by another run of the same model keeps the first words.
    Description.objects.bulk_create(rows, ignore_conflicts=True)
    return len(kept)


def describe_photos(image_ids: set[int], describer: Describer) -> int:
    """Describe, as a whole, those of these photos the describer has not; how many were stored."""
    done = Description.objects.filter(image=OuterRef("pk"), model=describer.version)
    photos = SourceImage.objects.filter(pk__in=image_ids).exclude(Exists(done)).only("pk", "file").order_by("pk")
    pixels: list[Image.Image] = []
    kept: list[SourceImage] = []
    for photo in photos:
        try:
            with photo.file.open("rb") as handle:
                image = load_image(handle.read())
        except (OSError, ValueError, ImageError) as exc:
            logger.warning("Photo %s has no readable file (%s); not described", photo.pk, exc)
            continue
        image.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
        pixels.append(image)
        kept.append(photo)
    if not kept:
        return 0
    prompt = describer.photo_prompt
    texts = describer.describe(pixels, [prompt] * len(kept))
    rows = [
        Description(image=photo, text=text, model=describer.version, prompt=prompt)
        for photo, text in zip(kept, texts, strict=True)
        if text
    ]
    Description.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def finish(record: DescriptionRun, status: str, error: str) -> DescriptionRun:
    record.status, record.error, record.finished = status, error[:4000], timezone.now()
    record.save(update_fields=["status", "error", "finished", "model", "total", "described"])
    if error:
        logger.warning("Description run %s failed: %s", record.pk, error)
    return record
