"""Index files: stored once with a checksum, read by every web process through one memory map.

A build's file lives in private index storage (settings.STORAGES["indexes"], local
disk or a bucket). Web processes read it with FAISS's memory-mapped I/O, so the
gunicorn workers of one host share one copy in the page cache instead of holding
one each. Storage that is not a local path (GCS) is first copied to
INDEX_CACHE_DIR on the host, checked against the build's sha256 (each time it is
opened), and the cache is pruned to the INDEX_CACHE_KEEP newest builds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

import faiss
from django.conf import settings
from django.core.files import File

from indexing.ann import faiss_index as ann
from indexing.models import IndexBuild

logger = logging.getLogger(__name__)

CHUNK = 8 << 20
PART_MAX_AGE_SECONDS = 3600  # a partial download older than this was abandoned


def save_index(build: IndexBuild, index: faiss.Index) -> int:
    """Write ``index`` as the build's file and record its checksum (not saved to the row); returns its bytes."""
    cache = Path(settings.INDEX_CACHE_DIR)
    cache.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=cache, suffix=".faiss.part")
    os.close(handle)
    try:
        faiss.write_index(index, temp)
        build.checksum = file_sha256(Path(temp))
        with open(temp, "rb") as data:
            build.file.save(f"index-{build.pk}-{build.checksum[:12]}.faiss", File(data), save=False)
        size = os.path.getsize(temp)
        if not local_storage_path(build):
            os.replace(temp, cached_path(build))  # this host has it already: no download to serve it
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return size


def read_index(build: IndexBuild, *, mmap: bool = True) -> faiss.Index:
    """The build's index, checked against its checksum; memory-mapped and read-only unless ``mmap`` is False.

    An index that will be added to (indexing.ann.builds.publish_update) is read into memory.
    """
    path = local_file(build)
    flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
    index = faiss.read_index(str(path), flags)
    ann.configure_search(index, build.params or None)  # the knobs chosen with the kind; else settings
    return index


def local_file(build: IndexBuild) -> Path:
    """A checked local copy of the build's file: its storage path when local, else a cached download.

    Every copy is checked against the build's sha256 when it is opened, cached ones too:
    a file is trusted by its checksum, never by its name (a truncated or replaced copy
    is fetched again). Web processes do this off the request path (search.query.index_cache).
    """
    path = local_storage_path(build) or cached_path(build)
    if path.exists():
        try:
            check(build, path)
            return path
        except ValueError:
            if path.parent != Path(settings.INDEX_CACHE_DIR):
                raise  # the stored file itself is corrupt: nothing to fetch it again from
            logger.warning("Cached copy %s of index build %s is corrupt: fetching it again", path, build.pk)
            path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".faiss.part")
    try:
        with os.fdopen(handle, "wb") as out, build.file.open("rb") as source:
            while chunk := source.read(CHUNK):
                out.write(chunk)
        check(build, Path(temp))
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    logger.info("Copied index build %s to %s", build.pk, path)
    prune_cache(keep={build.pk})
    return path


def check(build: IndexBuild, path: Path) -> None:
    digest = file_sha256(path)
    if digest != build.checksum:
        raise ValueError(
            f"Index build {build.pk} file {build.file.name} is corrupt: sha256 {digest} != {build.checksum}"
        )


def local_storage_path(build: IndexBuild) -> Path | None:
    try:
        return Path(build.file.path)
    except NotImplementedError:  # remote storage (GCS): no local path
        return None


def cached_path(build: IndexBuild) -> Path:
    return Path(settings.INDEX_CACHE_DIR) / f"build-{build.pk}-{build.checksum[:16]}.faiss"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def forget_cached(keep: set[int]) -> None:
    """Delete this host's cached copies of builds not in ``keep`` (a process may still map one: POSIX keeps it)."""
    cache = Path(settings.INDEX_CACHE_DIR)
    for path in cache.glob("build-*.faiss"):
        if cached_build_id(path) not in keep:
            path.unlink(missing_ok=True)


def cached_build_id(path: Path) -> int | None:
    try:
        return int(path.name.split("-")[1])
    except (IndexError, ValueError):
        return None


def prune_cache(*, keep: set[int]) -> list[Path]:
    """Keep this host's cache small: the INDEX_CACHE_KEEP newest builds' copies (and ``keep``), no stale parts.

    Run after each download, on web hosts too (they never run prune_builds). A process
    still mapping a deleted copy keeps reading it (POSIX); one about to open it fetches it
    again. A download in progress (a .part file younger than an hour) is left alone.
    """
    cache = Path(settings.INDEX_CACHE_DIR)
    copies = sorted(
        (p for p in cache.glob("build-*.faiss") if cached_build_id(p) is not None),
        key=lambda p: cached_build_id(p),
        reverse=True,
    )
    newest = {cached_build_id(p) for p in copies[: settings.INDEX_CACHE_KEEP]}
    removed = [p for p in copies if cached_build_id(p) not in newest | keep]
    now = time.time()
    removed += [p for p in cache.glob("*.faiss.part") if now - p.stat().st_mtime > PART_MAX_AGE_SECONDS]
    for path in removed:
        path.unlink(missing_ok=True)
    if removed:
        logger.info("Pruned %d file(s) from the index cache %s", len(removed), cache)
    return removed
