"""Photo queries: photos that hold objects like each of a query photo's objects.

Each query object (detected, or the whole photo when none is) is searched on its own
for its SEARCH_PHOTO_CANDIDATES best crops; the crops are grouped by the photo they
were cut from, and each photo keeps its best match per query object. A photo's score
is the mean over the query objects of those best matches, a missing one counting 0,
so a photo holding objects like all of them ranks above one holding some. With
``match="all"``, only photos with a match for every query object are returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from indexing.models import SourceImage
from search.query.candidates import search_vectors
from search.query.errors import SearchInputError
from search.query.filters import CropFilter, build_filter
from search.query.image import photos
from search.query.services import QueryObject
from search.query.validation import check_upload_size, validate_k, validate_min_score

MATCH_MODES = ("all", "any")


@dataclass
class PhotoMatch:
    """A photo's best crop for one query object."""

    query_index: int  # which query object (0-based, in the answer's ``objects`` order)
    result: object  # SearchResult: the crop, its box and score


@dataclass
class PhotoResult:
    image_id: int
    image_url: str
    dataset: str
    split: str
    width: int
    height: int
    score: float  # mean over the query objects of the best match (0 where none)
    matches: list[PhotoMatch] = field(default_factory=list)


@dataclass
class PhotoSearch:
    match: str
    objects: list  # the query objects (label, confidence, box), as in an image search
    photos: list[PhotoResult]
    message: str = ""
    width: int = 0
    height: int = 0
    whole_image: bool = False  # no object found: the whole photo was the one query object
    preview: object = field(default=None, repr=False)  # when asked for: the query photo, shrunk


def validate_match(match: str | None) -> str:
    match = match or "all"
    if match not in MATCH_MODES:
        raise SearchInputError(_("match must be 'all' (photos holding every object) or 'any'."))
    return match


def rank_photos(
    vectors: np.ndarray, *, version: str, k: int, match: str, crop_filter: CropFilter | None, min_score: float | None
) -> list[PhotoResult]:
    """The ``k`` best photos for the query vectors (one per query object), best first.

    Ties are broken by image id, so the order is stable.
    """
    per_object = search_vectors(vectors, settings.SEARCH_PHOTO_CANDIDATES, crop_filter, min_score, version=version)
    by_photo: dict[int, dict[int, object]] = {}
    for index, results in enumerate(per_object):
        for result in results:  # best first: the first crop seen of a photo is its best
            by_photo.setdefault(result.image_id, {}).setdefault(index, result)
    wanted = len(per_object)
    rows = SourceImage.objects.filter(pk__in=list(by_photo)).values_list("pk", "width", "height")
    sizes = {pk: (width or 0, height or 0) for pk, width, height in rows}
    ranked = []
    for image_id, best in by_photo.items():
        if match == "all" and len(best) < wanted:
            continue
        first = next(iter(best.values()))
        ranked.append(
            PhotoResult(
                image_id=image_id,
                image_url=first.image_url,
                dataset=first.dataset,
                split=first.split,
                width=sizes.get(image_id, (0, 0))[0],
                height=sizes.get(image_id, (0, 0))[1],
                score=round(sum(r.score for r in best.values()) / wanted, 6),
                matches=[PhotoMatch(index, best[index]) for index in sorted(best)],
            )
        )
    ranked.sort(key=lambda photo: (-photo.score, photo.image_id))
    return ranked[:k]


def search_photos(
    data: bytes,
    *,
    k: int | None = None,
    match: str | None = None,
    labels: Sequence[str] | None = None,
    datasets=None,
    splits=None,
    min_score: float | None = None,
    preview_side: int | None = None,
) -> PhotoSearch:
    """Photos holding objects like each object of the query photo (``match``: all of them, or any)."""
    k, min_score, match = validate_k(k), validate_min_score(min_score), validate_match(match)
    crop_filter = build_filter(labels=labels, datasets=datasets, splits=splits)
    check_upload_size(len(data))
    image = photos.decode(data)
    found = photos.find_objects(image)
    if found.crops:
        objects = [QueryObject(c.label, c.confidence, c.box) for c in found.crops]
        pixels = [c.pixels for c in found.crops]
        message = (
            ngettext(
                "Photos holding objects like all of the %(count)d object found.",
                "Photos holding objects like all of the %(count)d objects found.",
                len(objects),
            )
            if match == "all"
            else ngettext(
                "Photos holding objects like any of the %(count)d object found.",
                "Photos holding objects like any of the %(count)d objects found.",
                len(objects),
            )
        ) % {"count": len(objects)}
    else:
        width, height = image.size
        objects = [QueryObject(None, None, (0.0, 0.0, float(width), float(height)))]
        pixels = [image]
        message = _("No object of the searchable classes was found: photos with crops like the whole photo.")
    vectors, version = photos.embed(pixels)
    ranked = rank_photos(vectors, version=version, k=k, match=match, crop_filter=crop_filter, min_score=min_score)
    width, height = image.size
    preview = photos.preview(image, preview_side) if preview_side else None
    return PhotoSearch(match, objects, ranked, message, width, height, not found.crops, preview)
