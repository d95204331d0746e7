"""What a search returns: one crop with its score, as pages and API show it."""

from __future__ import annotations

from dataclasses import dataclass, field

from indexing.models import Crop, Dataset
from search.filters import CropFilter


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
    # Folded copies (search.collapse): the best result of each other photo of its duplicate group.
    copies: tuple[SearchResult, ...] = field(default=(), compare=False)


def active_crops():
    # A dataset being deleted (indexing.deletion) leaves search at once, before its rows go.
    searchable = Crop.objects.filter(is_active=True, image__dataset__status=Dataset.Status.ACTIVE)
    # Not the embedding: parsing 512 floats of text per row cost more than the whole index search.
    return searchable.select_related("image__dataset").defer("embedding")


def hydrate(candidates: dict[int, float], crop_filter: CropFilter, min_score) -> list[SearchResult]:
    """Rows for the candidate ids that are still active (and match the filters), best first."""
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
