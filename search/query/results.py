"""What a search returns: one crop with its score, as pages and API show it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from indexing.models import Crop, Dataset
from search.query.filters import CropFilter


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
    # Folded copies (search.query.collapse): the best result of each other photo of its duplicate group.
    copies: tuple[SearchResult, ...] = field(default=(), compare=False)
    # Which signal ranked it (search.query.text.fusion): vector (CLIP alone), text (its description's words), both.
    ranked_by: str = "vector"
    text_rank: int | None = None  # its place among the description matches (1: best); None: not matched
    text_match: float | None = None  # ts_rank of its best description for the query
    fused_score: float | None = None  # the reciprocal-rank fusion score the order follows (SEARCH_TEXT_FUSION=rrf)


def visible(crops: QuerySet[Crop] | None = None, *, version: str | None = None) -> QuerySet[Crop]:
    """The one visibility rule of every read path: an active crop, of an active dataset, of ``version``.

    A dataset being deleted (indexing.catalog.deletion) leaves search at once, before its rows go;
    eligibility (search.query.filtered), hydration, the SQL tail and "the same object" all use this.
    """
    crops = Crop.objects.all() if crops is None else crops
    crops = crops.filter(is_active=True, image__dataset__status=Dataset.Status.ACTIVE)
    return crops if version is None else crops.filter(embedder_version=version)


def active_crops(*, version: str | None = None) -> QuerySet[Crop]:
    # Not the embedding: parsing 512 floats of text per row cost more than the whole index search.
    return visible(version=version).select_related("image__dataset").defer("embedding")


def visible_ids(ids, crop_filter: CropFilter, *, version: str | None = None) -> set[int]:
    """Which of ``ids`` are visible and pass the filter: one indexed query reading ids only."""
    if not ids:
        return set()
    crops = crop_filter.apply(visible(version=version).filter(pk__in=list(ids)))
    return set(crops.values_list("pk", flat=True))


def hydrate(candidates: dict[int, float], crop_filter: CropFilter, min_score) -> list[SearchResult]:
    """Rows for the candidate ids that are still visible (and match the filters), best first."""
    crops = crop_filter.apply(active_crops().filter(pk__in=list(candidates)))
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
