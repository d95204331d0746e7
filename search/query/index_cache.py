"""The FAISS builds this process searches, one per CLIP version: mapped once, swapped when a newer one is ready.

Builds are read through a memory map (indexing.ann.index_files), so the gunicorn workers
of one host share one copy of the index in the page cache.

- One build is held per embedder version. The served version's build is never evicted
  by a request for another ("more like this" on a crop of an older CLIP): besides it, at
  most SEARCH_INDEX_OTHER_VERSIONS other versions are held, least recently used first out.
- Checking for a newer build is one indexed query per version, at most every
  SEARCH_INDEX_CHECK_SECONDS, not on every request.
- A newer build is loaded (downloaded, checked against its sha256, mapped) in a
  background thread, outside every lock requests take: requests keep the old build
  until the new one is ready, then it is swapped in at once. Only the first build of a
  version is loaded in the request that needs it (there is nothing older to serve), and
  threads asking for the same build meanwhile wait for that one load.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import faiss
from django.conf import settings

from indexing import served_models
from indexing.ann import builds
from indexing.models import IndexBuild

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedIndex:
    build_id: int
    max_crop_id: int  # crops with larger ids are not in the index: ranked in SQL (search.query.candidates)
    built_at: datetime  # crops shown again after this may be missing from it: ranked in SQL too
    version: str  # the embedder whose vectors it holds: queries of another are never compared with them
    index: faiss.Index  # memory-mapped: a host's web processes share one copy


class IndexHolder:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the dicts below; never held while a file loads
        self._held: dict[str, LoadedIndex] = {}
        self._used: dict[str, float] = {}  # version -> when last asked for (eviction order)
        self._checked_at: dict[str, float] = {}
        self._loading: dict[int, threading.Event] = {}  # build id -> set when its load ends
        self._wanted: dict[str, int] = {}  # version -> the build its last check found newest
        self.loads = 0  # builds loaded by this process (tests and logs read it)

    def current(self, *, version: str) -> LoadedIndex | None:
        """The newest ready build of embedder ``version`` this process holds, or None when there is none."""
        now = time.monotonic()
        with self._lock:
            held = self._held.get(version)
            due = now - self._checked_at.get(version, float("-inf")) >= settings.SEARCH_INDEX_CHECK_SECONDS
            if due:
                self._checked_at[version] = now  # one thread checks; the others keep what is held
            self._used[version] = now
        if due:
            self._refresh(version, held)
        with self._lock:
            return self._held.get(version)

    def _refresh(self, version: str, held: LoadedIndex | None) -> None:
        newest = builds.latest_ready_build(version=version)
        if newest is None:
            with self._lock:
                self._held.pop(version, None)  # its builds were all pruned: search that version in SQL
            return
        with self._lock:
            self._wanted[version] = newest.pk  # a slower load of an older build is not swapped in after it
        if held is not None and held.build_id == newest.pk:
            return
        if held is None:
            self._load(newest, wait=True)  # nothing older to serve: this request waits for it
        elif settings.SEARCH_INDEX_LOAD_IN_BACKGROUND:
            self._load(newest, wait=False)  # keep serving ``held`` until the new one is in
        else:
            self._load(newest, wait=True)

    def _load(self, build: IndexBuild, *, wait: bool) -> None:
        with self._lock:
            event = self._loading.get(build.pk)
            mine = event is None
            if mine:
                event = self._loading[build.pk] = threading.Event()
        if mine and wait:
            self._load_and_swap(build, event)
        elif mine:
            threading.Thread(target=self._load_and_swap, args=(build, event), daemon=True, name="index-load").start()
        elif wait:
            event.wait()

    def _load_and_swap(self, build: IndexBuild, event: threading.Event) -> None:
        try:
            loaded = read(build)
            if loaded is not None:
                self._install(loaded)
        finally:
            with self._lock:
                self._loading.pop(build.pk, None)
            event.set()

    def _install(self, loaded: LoadedIndex) -> None:
        """Swap ``loaded`` in for its version; drop other versions over SEARCH_INDEX_OTHER_VERSIONS."""
        with self._lock:
            if self._wanted.get(loaded.version, loaded.build_id) != loaded.build_id:
                return
            self._held[loaded.version] = loaded
            self.loads += 1
            versions = set(self._held)
        if len(versions) <= 1 + settings.SEARCH_INDEX_OTHER_VERSIONS:
            return
        served = served_models.served_embedder_version()  # asked only when a version must go
        with self._lock:
            others = sorted((v for v in self._held if v != served), key=lambda v: self._used.get(v, 0.0))
            while others and len(self._held) > 1 + settings.SEARCH_INDEX_OTHER_VERSIONS:
                dropped = others.pop(0)
                self._held.pop(dropped, None)
                logger.info("Dropped the index of embedder %s (SEARCH_INDEX_OTHER_VERSIONS)", dropped)

    def held_versions(self) -> set[str]:
        with self._lock:
            return set(self._held)

    def wait_for_loads(self, timeout: float = 30.0) -> None:
        """Until no load is in flight (tests; a management command after publishing a build)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                events = list(self._loading.values())
            if not events:
                return
            for event in events:
                event.wait(max(deadline - time.monotonic(), 0.0))
            if time.monotonic() >= deadline:
                raise TimeoutError("index loads still in flight")

    def reset(self) -> None:
        with self._lock:
            self._held.clear()
            self._used.clear()
            self._checked_at.clear()
            self._wanted.clear()
            self.loads = 0


def read(build: IndexBuild) -> LoadedIndex | None:
    """The build mapped and checked, or None (logged) when its file cannot be: the old build keeps serving."""
    started = time.perf_counter()
    try:
        index = builds.load_build(build)
    except (OSError, ValueError, RuntimeError) as exc:
        logger.error("Could not load index build %s: %s", build.pk, exc)
        return None
    took = time.perf_counter() - started
    logger.info("Loaded index build %s (%s, %d crops) in %.2f s", build.pk, build.kind, build.size, took)
    return LoadedIndex(build.pk, build.max_crop_id, build.created, build.embedder_version, index)


index_holder = IndexHolder()
