"""Search services: text, image and "more like this", used by pages and API alike.

Candidates come from the newest ready FAISS build plus an exact search over the
crops created after it (so a freshly indexed crop is found at once); every
candidate is then checked against PostgreSQL, so a deactivated or deleted crop is
never returned. With no build yet, pgvector alone serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from pgvector.django import CosineDistance

from indexing import ann
from indexing.models import Crop
from indexing.services import plan_crops
from indexing.vision.crops import CropPolicy
from indexing.vision.detector import get_detector
from indexing.vision.embedder import get_embedder
from indexing.vision.errors import ImageError
from indexing.vision.images import load_image
from search.index_cache import index_holder


class SearchInputError(ValueError):
    """The query is unusable; the message says why, in words for a person."""

    status = 400


class UploadTooLarge(SearchInputError):
    status = 413


class CropNotFound(LookupError):
    pass


@dataclass(frozen=True)
class SearchResult:
    crop_id: int
    label: str
    confidence: float
    score: float
    crop_url: str
    image_url: str
    image_id: int
    box: tuple[float, float, float, float]
    dataset: str
    split: str


@dataclass
class QueryObject:
    """One object found in a query photo, with the crops most like it."""

    label: str | None
    confidence: float | None
    box: tuple[float, float, float, float]
    results: list[SearchResult] = field(default_factory=list)


@dataclass
class ImageSearch:
    width: int
    height: int
    objects: list[QueryObject]
    whole_image: bool  # no object of the product's classes: the whole photo was the query
    message: str = ""


# --- Validation -------------------------------------------------------------------


def validate_k(k: int | None) -> int:
    k = settings.SEARCH_DEFAULT_K if k is None else k
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= settings.SEARCH_MAX_K:
        raise SearchInputError(f"k must be a whole number from 1 to {settings.SEARCH_MAX_K}.")
    return k


def validate_labels(labels: Sequence[str] | None) -> list[str] | None:
    if not labels:
        return None
    unknown = sorted(set(labels) - set(settings.DETECTOR_CLASSES))
    if unknown:
        raise SearchInputError(
            f"Unknown label(s): {', '.join(unknown)}. Known labels: {', '.join(settings.DETECTOR_CLASSES)}."
        )
    return list(labels)


def validate_min_score(min_score: float | None) -> float | None:
    if min_score is not None and not -1.0 <= min_score <= 1.0:
        raise SearchInputError("min_score must be between -1 and 1 (cosine similarity).")
    return min_score


def check_upload_size(size: int) -> None:
    if size > settings.MAX_UPLOAD_BYTES:
        raise UploadTooLarge(
            f"The upload is {size:,} bytes; the limit is {settings.MAX_UPLOAD_BYTES:,} bytes (MAX_UPLOAD_BYTES)."
        )


def read_upload(upload) -> bytes:
    """An uploaded file's bytes, refused by its declared size before reading it into memory."""
    if upload is None:
        raise SearchInputError("Choose a photo to search with.")
    check_upload_size(upload.size)
    return upload.read()


def validate_text(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise SearchInputError("Type a few words to search for.")
    query = query.strip()
    if len(query) > settings.SEARCH_MAX_QUERY_CHARS:
        raise SearchInputError(
            f"The query is {len(query)} characters long; the limit is {settings.SEARCH_MAX_QUERY_CHARS}."
        )
    return query


# --- Public services ---------------------------------------------------------------


def search_text(
    query: str, k: int | None = None, labels: Sequence[str] | None = None, min_score: float | None = None
) -> list[SearchResult]:
    """The crops nearest to a CLIP text embedding of ``query``."""
    query = validate_text(query)
    k, labels, min_score = validate_k(k), validate_labels(labels), validate_min_score(min_score)
    vector = get_embedder().embed_texts([query])[0]
    return search_vectors(vector[None, :], k, labels, min_score)[0]


def search_image(
    data: bytes, k: int | None = None, labels: Sequence[str] | None = None, min_score: float | None = None
) -> ImageSearch:
    """Detect the objects in a query photo and find the crops nearest to each.

    Uses the same detector and crop policy as indexing. When no object of the
    product's classes is found, the whole photo is the query.
    """
    k, labels, min_score = validate_k(k), validate_labels(labels), validate_min_score(min_score)
    check_upload_size(len(data))
    try:
        image = load_image(data)
    except ImageError as exc:
        raise SearchInputError(str(exc)) from exc
    detections = get_detector().detect([image])[0]
    crops = plan_crops(image, detections, CropPolicy.from_settings())
    width, height = image.size
    if crops:
        objects = [QueryObject(c.label, c.confidence, c.box) for c in crops]
        pixels = [c.pixels for c in crops]
        message = f"Found {len(crops)} object(s) in the photo."
    else:
        objects = [QueryObject(None, None, (0.0, 0.0, float(width), float(height)))]
        pixels = [image]
        message = (
            f"No object of the searchable classes ({', '.join(settings.DETECTOR_CLASSES)}) was found, "
            "so the whole photo was used as the query."
        )
    vectors = get_embedder().embed_images(pixels)
    for query_object, results in zip(objects, search_vectors(vectors, k, labels, min_score), strict=True):
        query_object.results = results
    return ImageSearch(width, height, objects, whole_image=not crops, message=message)


def similar_to_crop(crop_id: int, k: int | None = None) -> list[SearchResult]:
    """ "More like this": the crops nearest to an indexed crop, itself excluded."""
    k = validate_k(k)
    vector = Crop.objects.filter(pk=crop_id).values_list("embedding", flat=True).first()
    if vector is None:
        raise CropNotFound(f"There is no crop {crop_id}.")
    results = search_vectors(np.asarray(vector, dtype=np.float32)[None, :], k + 1, None, None)[0]
    return [r for r in results if r.crop_id != crop_id][:k]


def get_crop(crop_id: int) -> SearchResult:
    crop = active_crops().filter(pk=crop_id).first()
    if crop is None:
        raise CropNotFound(f"There is no crop {crop_id}.")
    return to_result(crop, score=1.0)


# --- Vector search -----------------------------------------------------------------


def active_crops():
    return Crop.objects.filter(is_active=True).select_related("image__dataset")


def search_vectors(
    vectors: np.ndarray, k: int, labels: list[str] | None, min_score: float | None
) -> list[list[SearchResult]]:
    """For each query vector, the ``k`` best active crops (label and score filters applied)."""
    loaded = index_holder.current()
    return [
        search_one(vector, k, labels, min_score, loaded) if loaded else search_pgvector(vector, k, labels, min_score)
        for vector in np.asarray(vectors, dtype=np.float32)
    ]


def search_pgvector(vector: np.ndarray, k: int, labels, min_score) -> list[SearchResult]:
    crops = active_crops()
    if labels:
        crops = crops.filter(label__in=labels)
    rows = crops.annotate(distance=CosineDistance("embedding", vector)).order_by("distance")[:k]
    results = [to_result(crop, 1.0 - crop.distance) for crop in rows]
    return [r for r in results if min_score is None or r.score >= min_score]


def search_one(vector: np.ndarray, k: int, labels, min_score, loaded) -> list[SearchResult]:
    """Index candidates + exact scores of newer crops, then checked against the database.

    Filters (label, inactive) can discard candidates, so fetch more than ``k`` and
    widen until ``k`` survive or the index has nothing more to give.
    """
    fresh = fresh_candidates(vector, loaded.max_crop_id)
    fetch = k * 4 if labels else k + 8
    while True:
        scores, ids = ann.search(loaded.index, vector, min(fetch, max(loaded.index.ntotal, 1)))
        candidates = {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}
        candidates.update(fresh)
        results = hydrate(candidates, labels, min_score)
        exhausted = fetch >= loaded.index.ntotal
        if len(results) >= k or exhausted or (min_score is not None and min(scores[0]) < min_score):
            return results[:k]
        fetch *= 4


def fresh_candidates(vector: np.ndarray, after_id: int) -> dict[int, float]:
    """Exact cosine scores of every crop added after the loaded build."""
    rows = Crop.objects.filter(pk__gt=after_id, is_active=True).values_list("pk", "embedding")
    return {pk: float(np.dot(np.asarray(embedding, dtype=np.float32), vector)) for pk, embedding in rows}


def hydrate(candidates: dict[int, float], labels, min_score) -> list[SearchResult]:
    """Rows for the candidate ids that are still active (and match the filters), best first."""
    crops = active_crops().filter(pk__in=list(candidates))
    if labels:
        crops = crops.filter(label__in=labels)
    results = [to_result(crop, candidates[crop.pk]) for crop in crops]
    results = [r for r in results if min_score is None or r.score >= min_score]
    return sorted(results, key=lambda r: (-r.score, r.crop_id))


def to_result(crop: Crop, score: float) -> SearchResult:
    image = crop.image
    return SearchResult(
        crop_id=crop.pk,
        label=crop.label,
        confidence=round(crop.confidence, 4),
        score=round(float(score), 6),
        crop_url=crop.file.url if crop.file else "",
        image_url=image.file.url if image.file else "",
        image_id=image.pk,
        box=(crop.x1, crop.y1, crop.x2, crop.y2),
        dataset=str(image.dataset),
        split=image.split,
    )
