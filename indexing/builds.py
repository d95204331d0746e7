"""FAISS index builds: publish a build over the active crops; find and load the served one.

A build is derived data (PostgreSQL holds the truth), published only once its file
is fully stored with a checksum: search (search/index_cache.py) loads the newest
ready build and keeps the previous one if a build crashes.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import faiss
from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import Max
from django.utils import timezone

from indexing import ann
from indexing.models import Crop, IndexBuild
from indexing.vectors import load_active_vectors

logger = logging.getLogger(__name__)

# A build still "building" after this long was left by a crashed worker.
STALE_BUILD_AFTER = timedelta(hours=6)


def publish_build(kind: str | None = None, use_gpu: bool | None = None) -> IndexBuild:
    """Build a FAISS index over every active crop and publish it when complete.

    The build row is ``building`` until its file is fully stored with a checksum;
    only then does it become ``ready``, so search keeps the previous ready build
    if this one crashes. Old builds beyond ANN_KEEP_BUILDS are pruned.
    """
    mark_stale_builds_failed()
    max_crop_id = Crop.objects.aggregate(top=Max("id"))["top"] or 0
    build = IndexBuild.objects.create(kind=kind or "auto", status=IndexBuild.Status.BUILDING, max_crop_id=max_crop_id)
    try:
        ids, vectors = load_active_vectors()
        # Crops committed while we read are covered by the exact search over newer ids.
        ids, vectors = ids[ids <= max_crop_id], vectors[ids <= max_crop_id]
        build.kind = kind or ann.choose_kind(len(ids))
        index = ann.make_index(vectors, ids, build.kind, settings.ANN_USE_GPU if use_gpu is None else use_gpu)
        data = ann.serialize(index)
        build.checksum = hashlib.sha256(data).hexdigest()
        build.file.save(f"index-{build.pk}-{build.checksum[:12]}.faiss", ContentFile(data), save=False)
        build.size = len(ids)
        build.embedder_version = embedder_versions(ids)
        build.status = IndexBuild.Status.READY
        build.finished = timezone.now()
        build.save()
    except Exception as exc:
        IndexBuild.objects.filter(pk=build.pk).update(
            status=IndexBuild.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000], finished=timezone.now()
        )
        raise
    logger.info("Index build %s ready: %s over %d crops (%d bytes)", build.pk, build.kind, build.size, len(data))
    prune_builds(settings.ANN_KEEP_BUILDS)
    return build


def index_is_current() -> bool:
    """True when the newest ready build covers exactly the active crops there are now."""
    build = latest_ready_build()
    if build is None:
        return False
    active = Crop.objects.filter(is_active=True)
    return not active.filter(pk__gt=build.max_crop_id).exists() and active.count() == build.size


def embedder_versions(ids) -> str:
    versions = Crop.objects.filter(pk__in=[int(i) for i in ids[:1]]).values_list("embedder_version", flat=True)
    return next(iter(versions), "")


def mark_stale_builds_failed() -> None:
    IndexBuild.objects.filter(status=IndexBuild.Status.BUILDING, created__lt=timezone.now() - STALE_BUILD_AFTER).update(
        status=IndexBuild.Status.FAILED, error="abandoned: the worker building it stopped"
    )


def prune_builds(keep: int) -> int:
    """Delete all but the newest ``keep`` ready builds, and old failed ones, with their files."""
    ready = IndexBuild.objects.filter(status=IndexBuild.Status.READY).order_by("-created", "-pk")
    doomed = list(ready[keep:])
    doomed += list(IndexBuild.objects.filter(status=IndexBuild.Status.FAILED).order_by("-created")[keep:])
    for build in doomed:
        if build.file:
            build.file.delete(save=False)
        build.delete()
    return len(doomed)


def latest_ready_build() -> IndexBuild | None:
    return IndexBuild.objects.filter(status=IndexBuild.Status.READY).order_by("-created", "-pk").first()


def load_build(build: IndexBuild) -> faiss.Index:
    """Read a build's file and check it against its recorded checksum."""
    with build.file.open("rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != build.checksum:
        raise ValueError(
            f"Index build {build.pk} file {build.file.name} is corrupt: sha256 {digest} != {build.checksum}"
        )
    return ann.deserialize(data)
