"""FAISS index builds: add new crops to the served index, or rebuild it when due.

A build is derived data (PostgreSQL holds the truth), published only once its file
is fully stored with a checksum (indexing.ann.index_files): a crash at any point leaves
the served build as it was. ``update_index`` is the one rule after indexing work:
- crops stored (or shown again) since the served build are added to a copy of its
  index (``add_with_ids``, no retraining): an update costs the new crops, not the
  collection;
- a full build (with training, for IVF/PQ kinds) runs only when there is no build,
  when asked, when the crops added since the last training pass
  ANN_RETRAIN_SHARE of the index, when hidden or deleted crops pass
  ANN_COMPACT_SHARE (they are filtered at query time until then), or when the
  chooser picks another kind for the collection's new size.
Search (search.query.candidates) ranks in SQL the crops a build does not hold yet.
Builds are per embedder version: every build here is of the served embedder's
crops (indexing.served_models); a re-embed builds its new version's index from the
staged vectors before it switches (indexing.model_changes.reembed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from indexing.ann import choice as ann_choice
from indexing.ann import faiss_index as ann
from indexing.ann import index_files
from indexing.ann.recall import measure as build_recall
from indexing.ann.recall import records as recall_records
from indexing.models import Crop, IndexBuild
from indexing.served_models import served_embedder_version, switching_to
from indexing.vectors import load_active_vectors, load_staged_vectors, newest_stored_crop_id

logger = logging.getLogger(__name__)

# A build still "building" after this long was left by a crashed worker.
STALE_BUILD_AFTER = timedelta(hours=6)
# pg_advisory_lock key: one index writer at a time, across hosts; released if its process dies.
INDEX_WRITER_LOCK = 0x56530001


def update_index(*, kind: str | None = None, use_gpu: bool | None = None, rebuild: bool = False) -> IndexBuild | None:
    """Bring the served index up to date: an incremental update, or a full build when due.

    Returns the new build, or None when the served one already holds every crop.
    """
    with index_writer():
        version = served_embedder_version()
        current = latest_ready_build(version=version)
        reason = "asked for" if rebuild else rebuild_reason(current, kind)
        if reason:
            logger.info("Full index build of %s vectors: %s", version or "no", reason)
            return publish_build(kind, use_gpu=use_gpu, version=version)
        return publish_update(current)


def rebuild_reason(current: IndexBuild | None, kind: str | None = None) -> str:
    """Why the next build must start from scratch, or "" when adding to ``current`` will do."""
    if current is None:
        return "no index yet"
    if kind and kind != current.kind:
        return f"{kind} asked for, {current.kind} served"
    added = tail(current).count()
    indexed_active = Crop.objects.filter(
        is_active=True, pk__lte=current.max_crop_id, embedder_version=current.embedder_version
    ).count()
    dead = max(current.size - indexed_active, 0)
    if (current.recall_report or {}).get("recheck_missed"):
        return f"recall fell below ANN_RECALL_TARGET at the last re-check: {current.recall_note}"
    if current.size and dead / current.size > settings.ANN_COMPACT_SHARE:
        return f"{dead} of {current.size} indexed crops are hidden or deleted (ANN_COMPACT_SHARE)"
    total = current.size + added
    untrained = total - current.trained_size
    if needs_training(current.kind) and total and untrained / total > settings.ANN_RETRAIN_SHARE:
        return f"{untrained} of {total} vectors added since training (ANN_RETRAIN_SHARE)"
    wanted = ann_choice.choose_kind(total - dead)
    # A kind the build tried on its own sample and passed over is not wanted back.
    passed_over = {a["kind"] for a in (current.recall_report or {}).get("attempts", []) if not a["reached"]}
    if settings.ANN_INDEX_KIND == "auto" and wanted != current.kind and wanted not in passed_over:
        return f"{wanted} suits {total - dead} crops better than {current.kind}"
    return ""


def needs_training(kind: str) -> bool:
    return "IVF" in kind or "PQ" in kind


def tail(build: IndexBuild) -> QuerySet[Crop]:
    """Active crops of the build's embedder it does not hold: stored after it, or shown again since it started."""
    return crops_outside(max_crop_id=build.max_crop_id, built_at=build.created, version=build.embedder_version)


def crops_outside(*, max_crop_id: int, built_at: datetime, version: str) -> QuerySet[Crop]:
    """Active crops of embedder ``version`` an index of ids up to ``max_crop_id``, read at ``built_at``, lacks."""
    crops = Crop.objects.filter(is_active=True, embedder_version=version)
    return crops.filter(Q(pk__gt=max_crop_id) | Q(reactivated__gt=built_at))


def publish_build(
    kind: str | None = None,
    use_gpu: bool | None = None,
    *,
    version: str | None = None,
    staged: bool = False,
    max_crop_id: int | None = None,
) -> IndexBuild:
    """Build a FAISS index over every active crop of embedder ``version``, from scratch; publish it when complete.

    ``version`` defaults to the served embedder's. ``staged``: from a re-embed's staged
    vectors of ``version`` (indexing.model_changes.reembed), not the crops' own, over crop ids up to
    ``max_crop_id`` (the ones it has staged; by default every crop stored).
    """
    version = served_embedder_version() if version is None else version
    mark_stale_builds_failed()
    max_crop_id = newest_stored_crop_id() if max_crop_id is None else max_crop_id
    build = start(
        IndexBuild(
            kind=kind or "auto", status=IndexBuild.Status.BUILDING, max_crop_id=max_crop_id, embedder_version=version
        )
    )
    with publishing(build):
        if staged:
            ids, vectors = load_staged_vectors(version=version)
        else:
            ids, vectors = load_active_vectors(Crop.objects.filter(embedder_version=version))
        # Crops committed while we read are ranked in SQL with the newer ids (search.query.candidates).
        ids, vectors = ids[ids <= max_crop_id], vectors[ids <= max_crop_id]
        forced = bool(kind) or settings.ANN_INDEX_KIND != "auto"
        config = ann.IndexConfig(kind) if kind else ann_choice.choose_config(len(ids))
        gpu = settings.ANN_USE_GPU if use_gpu is None else use_gpu
        # Measured on the collection's own vectors, knobs raised to the target (indexing.ann.recall.measure).
        index, measured = build_recall.build_tuned(vectors, ids, config, use_gpu=gpu, forced=forced)
        build.kind, build.params = measured.config.factory, dict(measured.config.params)
        build.size = build.trained_size = len(ids)
        recall_records.record(build, measured, size=len(ids))
        finish(build, index)
    return build


def publish_update(current: IndexBuild) -> IndexBuild | None:
    """Publish ``current``'s index plus the crops it does not hold; None when there are none."""
    max_crop_id = newest_stored_crop_id()
    news = tail(current).filter(pk__lte=max_crop_id)
    if not news.exists():
        return None
    build = start(
        IndexBuild(
            kind=current.kind,
            params=current.params,
            parent=current,
            trained_size=current.trained_size,
            embedder_version=current.embedder_version,
            status=IndexBuild.Status.BUILDING,
            max_crop_id=max_crop_id,
        )
    )
    with publishing(build):
        ids, vectors = load_active_vectors(news)
        index = index_files.read_index(current, mmap=False)
        # Crops shown again may still be in the index (hidden after it was built): drop them first.
        ann.remove_ids(index, ids[ids <= current.max_crop_id])
        recall_records.inherit(build, current)
        if recall_records.recheck_due(current, size_after=int(index.ntotal) + len(ids)):
            build.params, measured = recall_records.recheck(index, current, news_ids=ids, news_vectors=vectors)
            recall_records.record(build, measured, size=int(index.ntotal) + len(ids))
        index.add_with_ids(np.ascontiguousarray(vectors), ids)
        build.size = int(index.ntotal)
        finish(build, index)
    return build


def start(build: IndexBuild) -> IndexBuild:
    """Save a new build stamped by the database's clock, which also stamps crops shown again (builds.tail)."""
    build.save()
    IndexBuild.objects.filter(pk=build.pk).update(created=Now())
    build.refresh_from_db(fields=["created"])
    return build


@contextmanager
def publishing(build: IndexBuild) -> Iterator[None]:
    """Mark the build failed (and keep serving the previous one) if anything in the block raises."""
    try:
        yield
    except BaseException as exc:
        IndexBuild.objects.filter(pk=build.pk).update(
            status=IndexBuild.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000], finished=timezone.now()
        )
        raise


def finish(build: IndexBuild, index) -> None:
    """Store the index file, then (only then) mark the build ready."""
    size = index_files.save_index(build, index)
    build.status = IndexBuild.Status.READY
    build.finished = timezone.now()
    build.save()
    logger.info("Index build %s ready: %s over %d crops (%d bytes)", build.pk, build.kind, build.size, size)
    prune_builds(settings.ANN_KEEP_BUILDS)


@contextmanager
def index_writer() -> Iterator[None]:
    """Hold the index writer lock: concurrent jobs' updates run one after another, each adding the rest."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [INDEX_WRITER_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [INDEX_WRITER_LOCK])


def waiting_crops(*, at_least: int) -> bool:
    """True when at least ``at_least`` active crops wait outside the served index (or there is none)."""
    build = latest_ready_build(version=served_embedder_version())
    return build is None or tail(build)[: max(at_least, 1)].count() >= at_least


def index_is_current() -> bool:
    """True when the served build holds every active crop (hidden ones are filtered at query time)."""
    build = latest_ready_build(version=served_embedder_version())
    return build is not None and not tail(build).exists()


def mark_stale_builds_failed() -> None:
    IndexBuild.objects.filter(status=IndexBuild.Status.BUILDING, created__lt=timezone.now() - STALE_BUILD_AFTER).update(
        status=IndexBuild.Status.FAILED, error="abandoned: the worker building it stopped"
    )


def prune_builds(keep: int) -> int:
    """Delete all but the newest ``keep`` ready builds of the served embedder, and old failed ones, with their files.

    Builds of other embedders go, except the newest of an open re-embed's new model: it
    waits beside the served ones for its switch (indexing.model_changes.reembed).
    """
    ready = list(IndexBuild.objects.filter(status=IndexBuild.Status.READY).order_by("-created", "-pk"))
    version = served_embedder_version()
    served = [build for build in ready if build.embedder_version == version]
    kept_builds = served[:keep] if served else ready[:keep]
    for target in switching_to():
        kept_builds += [build for build in ready if build.embedder_version == target][:1]
    kept = {build.pk for build in kept_builds}
    doomed = [build for build in ready if build.pk not in kept]
    doomed += list(IndexBuild.objects.filter(status=IndexBuild.Status.FAILED).order_by("-created")[keep:])
    for build in doomed:
        if build.file:
            build.file.delete(save=False)
        build.delete()
    index_files.forget_cached(kept)
    return len(doomed)


def latest_ready_build(*, version: str | None = None) -> IndexBuild | None:
    """The newest ready build, of embedder ``version`` when given (what search and updates want)."""
    ready = IndexBuild.objects.filter(status=IndexBuild.Status.READY)
    if version is not None:
        ready = ready.filter(embedder_version=version)
    return ready.order_by("-created", "-pk").first()


def load_build(build: IndexBuild):
    """The build's index, memory-mapped (shared by the processes of a host), checked against its checksum."""
    return index_files.read_index(build)
