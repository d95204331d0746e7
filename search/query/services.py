"""Search services: text, image and "more like this", used by pages and API alike.

Each validates its input, embeds the query, and asks the vector search
(search.query.candidates: the served FAISS build plus the crops it does not hold yet,
ranked in SQL) for a page of results (search.query.paging), filtered (search.query.filters)
and, when asked, one per duplicate group (search.query.collapse).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from PIL import Image

from indexing import served_models, text_queries
from search.label_names import display_name
from search.query import paging
from search.query.candidates import search_vectors
from search.query.errors import CropNotFound, SearchInputError
from search.query.filters import NO_FILTER, build_filter
from search.query.image import photos, regions
from search.query.image import words as query_words
from search.query.results import SearchResult, active_crops, to_result, visible
from search.query.text import fusion
from search.query.validation import (
    check_upload_size,
    validate_k,
    validate_min_score,
    validate_text,
)


@dataclass
class QueryObject:
    """One object found in a query photo, with the crops most like it."""

    label: str | None
    confidence: float | None
    box: tuple[float, float, float, float]
    results: list[SearchResult] = field(default_factory=list)
    next_offset: int | None = None  # where the next page of this object's results starts; None: no more
    searched: bool = True  # False: found, over SEARCH_MAX_QUERY_OBJECTS; no results (a click searches its box)
    truncated: bool = False  # its search hit a cap (search.query.budget) before it had k results


@dataclass
class ImageSearch:
    width: int
    height: int
    objects: list[QueryObject]
    whole_image: bool  # no object of the product's classes: the whole photo was the query
    message: str = ""
    objects_left_out: int = 0  # found, but over SEARCH_MAX_QUERY_OBJECTS: in ``objects``, not searched
    preview: Image.Image | None = field(default=None, repr=False)  # when asked for: the photo, shrunk
    region: bool = False  # a box was given: that region alone was searched, no detector run
    offset: int = 0
    truncated: bool = False  # some object's search hit a cap before it had k results

    @property
    def searched_objects(self) -> list[QueryObject]:
        return [o for o in self.objects if o.searched]


# --- Public services ---------------------------------------------------------------


def search_text(
    query: str,
    k: int | None = None,
    labels: Sequence[str] | None = None,
    min_score: float | None = None,
    **filters_and_offset,
) -> list[SearchResult]:
    """The crops nearest to a text embedding of ``query`` (in any language with a multilingual TEXT_ENCODER)."""
    return search_text_page(query, k, labels, min_score, **filters_and_offset).results


def search_text_page(
    query: str,
    k: int | None = None,
    labels: Sequence[str] | None = None,
    min_score: float | None = None,
    *,
    datasets=None,
    splits=None,
    offset: int | None = None,
    collapse_duplicates: bool = False,
) -> paging.Page:
    """One page (``offset``, ``k``) of the crops nearest to ``query``, with where the next starts.

    With ``collapse_duplicates``, photos of one duplicate group give one result, the best.
    With SEARCH_TEXT_FUSION=rrf, the order fuses CLIP's with the descriptions' (search.query.text.fusion).
    """
    query = validate_text(query)
    k, min_score = validate_k(k), validate_min_score(min_score)
    crop_filter = build_filter(labels=labels, datasets=datasets, splits=splits)
    offset = paging.validate_offset(offset, k)
    # The CLIP's own text tower, or TEXT_ENCODER (any language) once checked against the served CLIP.
    vector, version = text_queries.embed_query(query)
    page = dict(version=version, k=k, offset=offset, crop_filter=crop_filter, min_score=min_score)
    if fusion.mode() == "rrf":
        return fusion.fused_page(query, vector, **page, collapse=collapse_duplicates)
    return paging.pages(vector[None, :], **page, collapse=collapse_duplicates)[0]


def search_image(
    data: bytes,
    k: int | None = None,
    labels: Sequence[str] | None = None,
    min_score: float | None = None,
    *,
    preview_side: int | None = None,
    box=None,
    datasets=None,
    splits=None,
    offset: int | None = None,
    collapse_duplicates: bool = False,
    words=None,
) -> ImageSearch:
    """Detect the objects in a query photo and find the crops nearest to each.

    Uses the same detector and crop policy as indexing, and searches at most
    SEARCH_MAX_QUERY_OBJECTS objects (the most confident); every other object found is
    returned too, flagged not searched, with no results (its box can be searched as a
    region). When no object of the product's classes is found, the whole photo is the query. With ``box``
    ("x1,y1,x2,y2" in source pixels) that region alone is the query and the detector
    does not run (search.query.image.regions). With ``words`` (a list or comma-separated), an
    open-vocabulary detector looks for them too (search.query.image.words). With ``preview_side``,
    the result carries the photo shrunk to that side, from the same decoded copy.
    """
    k, min_score = validate_k(k), validate_min_score(min_score)
    crop_filter = build_filter(labels=labels, datasets=datasets, splits=splits)
    offset = paging.validate_offset(offset, k)
    box, words = regions.parse_box(box), query_words.parse_words(words)
    if box and words:
        raise SearchInputError(_("Give a box or query words, not both: with a box the detector does not run."))
    check_upload_size(len(data))
    image = photos.decode(data)
    width, height = image.size
    found = photos.FoundObjects([], 0) if box else photos.find_objects(image, words=words)
    crops = found.crops
    if box:
        region = regions.plan_region(image, box)
        objects = [QueryObject(None, None, region.box)]
        pixels = [region.pixels]
        message = _("Searched the region %(box)s of the photo.") % {"box": regions.fmt(box)}
    elif crops:
        objects = [QueryObject(c.label, c.confidence, c.box) for c in crops]
        pixels = [c.pixels for c in crops]
        message = ngettext(
            "Found %(count)d object in the photo.", "Found %(count)d objects in the photo.", len(crops)
        ) % {"count": len(crops)}
        if found.left_out:
            message = _(
                "Found %(found)d objects in the photo; searched the %(searched)d the detector is surest of "
                "(the other %(left_out)d were not searched: click one to search it)."
            ) % {"found": found.found, "searched": len(crops), "left_out": found.left_out}
    else:
        objects = [QueryObject(None, None, (0.0, 0.0, float(width), float(height)))]
        pixels = [image]
        message = _(
            "No object of the searchable classes (%(classes)s) was found, so the whole photo was used as the query."
        ) % {"classes": ", ".join(display_name(label) for label in served_models.served_classes())}
    vectors, version = photos.embed(pixels)
    found_pages = paging.pages(
        vectors,
        version=version,
        k=k,
        offset=offset,
        crop_filter=crop_filter,
        min_score=min_score,
        collapse=collapse_duplicates,
    )
    for query_object, page in zip(objects, found_pages, strict=True):
        query_object.results, query_object.next_offset = page.results, page.next_offset
        query_object.truncated = page.truncated
    truncated = any(page.truncated for page in found_pages)
    objects += [QueryObject(d.label, d.confidence, d.box, searched=False) for d in found.others]
    preview = photos.preview(image, preview_side) if preview_side else None
    return ImageSearch(
        width,
        height,
        objects,
        whole_image=not crops and not box,
        message=message,
        objects_left_out=found.left_out,
        preview=preview,
        region=bool(box),
        offset=offset,
        truncated=truncated,
    )


def similar_to_crop(crop_id: int, k: int | None = None) -> list[SearchResult]:
    """ "More like this": the crops nearest to an active crop, itself excluded.

    An inactive crop is not found, as everywhere else: curation hides it entirely.
    """
    k = validate_k(k)
    row = visible().filter(pk=crop_id).values_list("embedding", "embedder_version").first()
    if row is None:
        raise CropNotFound(_("There is no crop %(id)d.") % {"id": crop_id})
    vector, version = row  # compared with the crops of its own model only
    results = search_vectors(np.asarray(vector, dtype=np.float32)[None, :], k + 1, NO_FILTER, None, version=version)[0]
    return [r for r in results if r.crop_id != crop_id][:k]


def get_crop(crop_id: int) -> SearchResult:
    crop = active_crops().filter(pk=crop_id).first()
    if crop is None:
        raise CropNotFound(_("There is no crop %(id)d.") % {"id": crop_id})
    return to_result(crop, score=1.0)
