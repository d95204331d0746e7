"""bench/search.py's worst filters for bounded read paths, each beside the plain query at the same depth.

A filter on a dataset being deleted, and the deepest page of a 2-3 % label and of a 1 %
one: the filters that used to widen a FAISS search to the whole index. Each prints
p50/p95 and the work a query did (search.query.budget.Work: candidates, rounds, rows), and how
often a cap or the index's reach cut the page short. Imported after Django is set up.
"""

from __future__ import annotations

import time

import numpy as np
from django.conf import settings

from indexing.models import Crop, Dataset, SourceImage
from lib.setup import percentiles_ms
from search.query import paging
from search.query.budget import Work
from search.query.filters import CropFilter

DOOMED_SHARE = 0.05  # of the crops, in a dataset being deleted


def doomed_dataset(ids: np.ndarray) -> Dataset:
    """The photos of the last DOOMED_SHARE of the crops moved to their own dataset (active until the build is made).

    Photos move, not crops: a dataset owns photos, and its crops follow them (the share is then
    DOOMED_SHARE and at most one photo's crops more).
    """
    dataset, _ = Dataset.objects.get_or_create(name="bench-doomed", defaults={"version": "1"})
    Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.ACTIVE)
    first = int(ids[int(len(ids) * (1 - DOOMED_SHARE))])
    photos = Crop.objects.filter(pk__gte=first).values("image_id")
    SourceImage.objects.filter(pk__in=photos).update(dataset=dataset)
    return dataset


def worst_filters(
    queries: np.ndarray, labels: np.ndarray, doomed: Dataset, *, version: str, k: int, labels_named: tuple[str, str]
) -> None:
    """The filters that used to widen to the whole index, each beside the plain query at the same depth."""
    mid, rare = labels_named
    Dataset.objects.filter(pk=doomed.pk).update(status=Dataset.Status.DELETING)  # as a deletion starts
    deep = settings.SEARCH_MAX_DEPTH - k  # the deepest page
    print(f"\nworst filters (caps: SEARCH_MAX_CANDIDATES {settings.SEARCH_MAX_CANDIDATES}, "
          f"SEARCH_MAX_ROUNDS {settings.SEARCH_MAX_ROUNDS}); work per query: candidates / rounds / rows")  # fmt: skip
    cases = [
        ("plain query, first page", None, 0),
        (f"plain query, offset {deep}", None, deep),
        (f"dataset being deleted ({DOOMED_SHARE:.0%} of crops)", CropFilter(dataset_ids=(doomed.pk,)), 0),
        (f"{mid} ({(labels == mid).mean():.1%} of crops), offset {deep}", CropFilter(labels=(mid,)), deep),
        (f"{rare} ({(labels == rare).mean():.1%} of crops), offset {deep}", CropFilter(labels=(rare,)), deep),
    ]
    for name, crop_filter, offset in cases:
        seconds, works, cut = [], [], 0
        for query in queries:
            work = Work.from_settings()
            started = time.perf_counter()
            page = paging.pages(
                query[None, :], version=version, k=k, offset=offset, crop_filter=crop_filter, min_score=None, work=work
            )[0]
            seconds.append(time.perf_counter() - started)
            works.append((work.candidates, work.rounds, work.rows))
            cut += page.truncated
        p50, p95 = percentiles_ms(seconds)
        mean = np.mean(works, axis=0)
        print(f"  {name:<44} p50 {p50:8.2f} ms  p95 {p95:8.2f} ms  {mean[0]:8.0f} / {mean[1]:4.1f} / {mean[2]:6.0f}"
              f"  truncated {cut / len(queries):.0%}")  # fmt: skip
    Dataset.objects.filter(pk=doomed.pk).update(status=Dataset.Status.ACTIVE)
