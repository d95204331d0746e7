"""What the home page says about the collection: photos and objects searchable, and queries to try.

One aggregate query over the searchable crops (a count per product class in the same pass),
cached for SUMMARY_CACHE_SECONDS: the home page never scans the collection per hit.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count

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
    """Searchable photos and objects, and the labels they hold, most common first (two queries)."""
    counts = active_crops().order_by().aggregate(objects=Count("id"), photos=Count("image_id", distinct=True))
    # Grouped by label: one row per label, however many classes the detector has (80 with DETECTOR_CLASSES=all).
    per_label = active_crops().order_by().values("label").annotate(n=Count("id")).values_list("n", "label")
    common = sorted(per_label, key=lambda pair: (-pair[0], pair[1]))
    return Summary(counts["photos"], counts["objects"], tuple(label for _, label in common[:SAMPLE_QUERIES]))
