"""What the home page says about the collection: photos and objects searchable, and queries to try.

One aggregate query over the searchable crops (a count per product class in the same pass),
cached for SUMMARY_CACHE_SECONDS: the home page never scans the collection per hit.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Q

from indexing.served_models import served_classes
from search.query.results import active_crops

SUMMARY_CACHE_SECONDS = 60
SAMPLE_QUERIES = 4
CACHE_KEY = "search:collection-summary"


@dataclass(frozen=True)
class Summary:
    photos: int
    objects: int
    samples: tuple[str, ...]  # the collection's most common labels, most common first


def summary() -> Summary:
    found = cache.get(CACHE_KEY)
    if found is None:
        found = count_collection()
        cache.set(CACHE_KEY, found, SUMMARY_CACHE_SECONDS)
    return found


def count_collection() -> Summary:
    """Searchable photos and objects, and the classes they hold, most common first (one query)."""
    classes = served_classes()  # one FILTER per class: one scan, 80 counts with DETECTOR_CLASSES=all
    per_label = {f"label_{i}": Count("id", filter=Q(label=label)) for i, label in enumerate(classes)}
    counts = (
        active_crops().order_by().aggregate(objects=Count("id"), photos=Count("image_id", distinct=True), **per_label)
    )
    labelled = [(counts[f"label_{i}"], label) for i, label in enumerate(classes)]
    common = sorted((pair for pair in labelled if pair[0]), key=lambda pair: -pair[0])
    return Summary(counts["photos"], counts["objects"], tuple(label for _, label in common[:SAMPLE_QUERIES]))
