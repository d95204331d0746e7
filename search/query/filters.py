"""The one seam through which search filters reach the vector-search core: CropFilter.

The core (search.query.services: search_pgvector, hydrate) calls ``crop_filter.apply(crops)``
and widens its FAISS fetch when ``crop_filter.narrows``; everything that narrows a
search (labels, datasets, splits) is added here, never as a new core argument.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from indexing.models import Dataset
from search.query.errors import SearchInputError
from search.query.validation import validate_labels

# Datasets or splits one query may name: enough for any real filter, and a bound on the SQL.
MAX_FILTER_VALUES = 20
MAX_SPLIT_CHARS = 20  # SourceImage.split's max_length
SPLIT_NAME = re.compile(r"[\w.-]+", re.ASCII)


@dataclass(frozen=True)
class CropFilter:
    labels: tuple[str, ...] = ()
    dataset_ids: tuple[int, ...] = ()
    splits: tuple[str, ...] = ()

    @property
    def narrows(self) -> bool:
        """True when some active crops may be filtered out (the FAISS fetch then reaches deeper)."""
        return bool(self.labels or self.dataset_ids or self.splits)

    def normalised(self) -> CropFilter:
        """Each value once, sorted: one filter, one key (search.query.filtered caches per filter)."""
        return CropFilter(
            labels=tuple(sorted(set(self.labels))),
            dataset_ids=tuple(sorted(set(self.dataset_ids))),
            splits=tuple(sorted(set(self.splits))),
        )

    def apply(self, crops: QuerySet) -> QuerySet:
        if self.labels:
            crops = crops.filter(label__in=self.labels)
        if self.dataset_ids:
            crops = crops.filter(image__dataset_id__in=self.dataset_ids)
        if self.splits:
            crops = crops.filter(image__split__in=self.splits)
        return crops


NO_FILTER = CropFilter()


def build_filter(
    *, labels: Sequence[str] | str | None = None, datasets: Sequence | str | None = None, splits=None
) -> CropFilter:
    """A checked CropFilter; a bad value is a SearchInputError (400) that names it."""
    return CropFilter(
        labels=tuple(validate_labels(labels) or ()),
        dataset_ids=validate_datasets(datasets),
        splits=validate_splits(splits),
    ).normalised()


def filter_choices() -> dict:
    """What the search form offers: the datasets (id, name) and the split names they use."""
    datasets = list(Dataset.objects.order_by("name", "version").values_list("pk", "name", "version", "split_names"))
    splits = sorted({split for *_, names in datasets for split in names or []})
    return {
        "dataset_choices": [(str(pk), f"{name} {version}") for pk, name, version, _ in datasets],
        "split_choices": splits,
    }


def _values(raw: Sequence | str | int | None, what: str) -> list[str]:
    """A list, repeated fields or comma-separated text, as stripped strings; counted before parsing."""
    if raw is None or raw == "":
        return []
    items = [raw] if isinstance(raw, str | int) else list(raw)
    if len(items) > MAX_FILTER_VALUES:
        raise SearchInputError(_("Too many %(what)s: at most %(max)d.") % {"what": what, "max": MAX_FILTER_VALUES})
    values = [part.strip() for item in items for part in str(item).split(",", MAX_FILTER_VALUES) if part.strip()]
    if len(values) > MAX_FILTER_VALUES:
        raise SearchInputError(_("Too many %(what)s: at most %(max)d.") % {"what": what, "max": MAX_FILTER_VALUES})
    return list(dict.fromkeys(values))


def validate_datasets(raw) -> tuple[int, ...]:
    values = _values(raw, "datasets")
    if not all(value.isascii() and value.isdigit() and len(value) < 12 for value in values):
        raise SearchInputError(_("datasets are dataset ids: whole numbers (see GET /api/datasets)."))
    ids = tuple(int(value) for value in values)
    missing = sorted(set(ids) - set(Dataset.objects.filter(pk__in=ids).values_list("pk", flat=True)))
    if missing:
        raise SearchInputError(
            _("Unknown dataset id(s): %(ids)s (see GET /api/datasets).") % {"ids": ", ".join(map(str, missing))}
        )
    return ids


def validate_splits(raw) -> tuple[str, ...]:
    values = _values(raw, "splits")
    if any(len(value) > MAX_SPLIT_CHARS or not SPLIT_NAME.fullmatch(value) for value in values):
        raise SearchInputError(
            _("A split name is letters, digits, '_', '-' or '.', at most %(max)d characters (train, val...).")
            % {"max": MAX_SPLIT_CHARS}
        )
    known = {split for names in Dataset.objects.values_list("split_names", flat=True) for split in names or []}
    unknown = sorted(set(values) - known)
    if unknown:  # no dataset has it: refused, rather than a new (empty) filter searched and cached
        raise SearchInputError(
            _("Unknown split(s): %(unknown)s; the datasets' splits are %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(sorted(known)) or _("none")}
        )
    return tuple(values)
