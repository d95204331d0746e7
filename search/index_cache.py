"""The FAISS index this process searches: mapped once, swapped when a newer build is ready.

Builds are read through a memory map (indexing.index_files), so the gunicorn workers
of one host share one copy of the index in the page cache.

Checking for a newer build is one indexed query, done at most every
SEARCH_INDEX_CHECK_SECONDS, not on every request.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import faiss
from django.conf import settings

from indexing import builds
from indexing.models import IndexBuild

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedIndex:
    build_id: int
    max_crop_id: int  # crops with larger ids are not in the index: ranked in SQL (search.candidates)
    built_at: datetime  # crops shown again after this may be missing from it: ranked in SQL too
    version: str  # the embedder whose vectors it holds: queries of another are never compared with them
    index: faiss.Index  # memory-mapped: a host's web processes share one copy


class IndexHolder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: LoadedIndex | None = None
        self._checked_at = float("-inf")

    def current(self, *, version: str) -> LoadedIndex | None:
        """The newest ready build of embedder ``version``, or None when there is none yet.

        Asked for another version than the one held (a re-embed just switched), it looks at once.
        """
        stale = time.monotonic() - self._checked_at >= settings.SEARCH_INDEX_CHECK_SECONDS
        if stale or (self._loaded is not None and self._loaded.version != version):
            self._refresh(version)
        loaded = self._loaded
        return loaded if loaded is not None and loaded.version == version else None

    def _refresh(self, version: str) -> None:
        with self._lock:
            held = self._loaded
            fresh = time.monotonic() - self._checked_at < settings.SEARCH_INDEX_CHECK_SECONDS
            if fresh and (held is None or held.version == version):
                return  # another thread refreshed while we waited
            newest = builds.latest_ready_build(version=version)
            self._checked_at = time.monotonic()
            if newest is None:
                self._loaded = None
            elif self._loaded is None or self._loaded.build_id != newest.pk:
                self._loaded = self._load(newest) or self._loaded

    def _load(self, build: IndexBuild) -> LoadedIndex | None:
        started = time.perf_counter()
        try:
            index = builds.load_build(build)
        except (OSError, ValueError, RuntimeError) as exc:
            # Keep serving the index we have (or pgvector alone) rather than failing searches.
            logger.error("Could not load index build %s: %s", build.pk, exc)
            return None
        logger.info(
            "Loaded index build %s (%s, %d crops) in %.2f s",
            build.pk,
            build.kind,
            build.size,
            time.perf_counter() - started,
        )
        return LoadedIndex(build.pk, build.max_crop_id, build.created, build.embedder_version, index)

    def reset(self) -> None:
        with self._lock:
            self._loaded = None
            self._checked_at = float("-inf")


index_holder = IndexHolder()
