"""Are rows, files and index ids consistent? (``manage.py check_consistency``)

Errors:
- a stored photo or crop file (``images/``, ``crops/``) or index file (``indexes/``)
  that no row names;
- a row (photo, crop, ready build) whose file is missing from storage;
- an id in the served FAISS build with no crop row;
- an active crop neither in the served build nor newer than it (``max_crop_id``: the
  tail that search scores exactly).

Not an error: ids of inactive crops still in the build. Deactivation is filtered at
query time by design; the next build (compaction) drops them. They are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import faiss
import numpy as np
from django.core.files.storage import default_storage

from indexing.ann import builds
from indexing.catalog.stored_files import walk_files
from indexing.models import Crop, IndexBuild, SourceImage, index_storage
from indexing.served_models import served_embedder_version

MEDIA_PREFIXES = ("images", "crops")
INDEX_PREFIX = "indexes"


@dataclass
class Report:
    files_without_rows: list[str] = field(default_factory=list)
    rows_without_files: list[str] = field(default_factory=list)
    index_ids_without_crop: list[int] = field(default_factory=list)
    active_crops_missing_from_index: list[int] = field(default_factory=list)
    # Crops another CLIP made than the served one: search never compares them (run reembed).
    crops_of_other_embedders: int = 0
    awaiting_compaction: int = 0  # inactive crops still in the served build (not an error)
    build_id: int | None = None  # the build checked; None when none is served

    @property
    def ok(self) -> bool:
        return not (
            self.files_without_rows
            or self.rows_without_files
            or self.index_ids_without_crop
            or self.active_crops_missing_from_index
            or self.crops_of_other_embedders
        )


def check_consistency() -> Report:
    report = Report()
    check_media(report)
    check_index_files(report)
    check_served_index(report)
    report.crops_of_other_embedders = Crop.objects.exclude(embedder_version=served_embedder_version()).count()
    return report


def check_media(report: Report) -> None:
    """Photo and crop files against their rows, both ways."""
    stored = {name for prefix in MEDIA_PREFIXES for name in walk_files(default_storage, prefix)}
    named = set(SourceImage.objects.values_list("file", flat=True))
    named |= set(Crop.objects.exclude(file="").values_list("file", flat=True))
    report.files_without_rows += sorted(stored - named)
    report.rows_without_files += sorted(named - stored)


def check_index_files(report: Report) -> None:
    """Index files against the builds that name them (a build still being written names none yet)."""
    storage = index_storage()
    stored = set(walk_files(storage, INDEX_PREFIX))
    named = set(IndexBuild.objects.exclude(file="").values_list("file", flat=True))
    ready = set(IndexBuild.objects.filter(status=IndexBuild.Status.READY).values_list("file", flat=True))
    report.files_without_rows += sorted(stored - named)
    report.rows_without_files += sorted(ready - stored)


def check_served_index(report: Report) -> None:
    """The served build's ids against the crops of its embedder."""
    build = builds.latest_ready_build(version=served_embedder_version())
    if build is None:
        return
    report.build_id = build.pk
    try:
        ids = index_ids(builds.load_build(build))
    except (OSError, ValueError):
        return  # its missing or corrupt file is reported by check_index_files / the loader's log
    in_index = set(ids.tolist())
    rows = dict(Crop.objects.filter(pk__in=list(in_index)).values_list("pk", "is_active"))
    report.index_ids_without_crop = sorted(in_index - set(rows))
    report.awaiting_compaction = sum(1 for active in rows.values() if not active)
    covered = Crop.objects.filter(
        is_active=True, pk__lte=build.max_crop_id, embedder_version=build.embedder_version
    ).values_list("pk", flat=True)
    report.active_crops_missing_from_index = sorted(set(covered) - in_index)


def index_ids(index: faiss.Index) -> np.ndarray:
    """The ids a FAISS index holds: its id map (IDMap/IDMap2), or its IVF inverted lists."""
    # A name of its own: the downcast view does not own the index, which must outlive it.
    view = faiss.downcast_index(index)
    if hasattr(view, "id_map"):
        return faiss.vector_to_array(view.id_map).astype(np.int64)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        raise ValueError(f"Cannot read the ids of a {type(index).__name__} index.")
    lists = ivf.invlists
    chunks = [
        faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
        for number in range(ivf.nlist)
        if lists.list_size(number)
    ]
    return np.concatenate(chunks).astype(np.int64) if chunks else np.empty(0, dtype=np.int64)
