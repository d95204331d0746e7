"""Reads of descriptions: a crop's words, and each dataset's progress (the datasets page)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Window
from django.db.models.functions import RowNumber

from indexing.models import Crop, Description, DescriptionRun


@dataclass(frozen=True)
class DescriptionProgress:
    described: int  # crops with at least one description (any model)
    last_run: DescriptionRun | None  # the newest run over the dataset's crops


def progress_by_dataset(dataset_ids: Sequence[int]) -> dict[int, DescriptionProgress]:
    """For each dataset: how many of its crops are described, and its newest run (two queries)."""
    described = (
        Crop.objects.filter(image__dataset_id__in=list(dataset_ids))
        .filter(Exists(Description.objects.filter(crop=OuterRef("pk"))))
        .values("image__dataset_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {row["image__dataset_id"]: row["n"] for row in described}
    newest = [F("created").desc(), F("pk").desc()]
    runs = (
        DescriptionRun.objects.filter(dataset_id__in=list(dataset_ids))
        .annotate(rank=Window(RowNumber(), partition_by=[F("dataset_id")], order_by=newest))
        .filter(rank=1)
    )
    last = {run.dataset_id: run for run in runs}
    return {pk: DescriptionProgress(counts.get(pk, 0), last.get(pk)) for pk in dataset_ids}


def descriptions_of(crop_id: int) -> list[Description]:
    """A crop's descriptions, newest first (one per model that described it)."""
    return list(Description.objects.filter(crop_id=crop_id).order_by("-created", "-pk"))
