"""Load a model once per process, on first use, safely from many threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LazyModel(Generic[T]):
    """Holds one instance built by ``factory`` on the first ``get()``.

    Double-checked locking: the common path (already loaded) takes no lock, and two
    threads arriving together during the first load still build it only once.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._instance: T | None = None

    def get(self) -> T:
        instance = self._instance
        if instance is None:
            with self._lock:
                instance = self._instance
                if instance is None:
                    instance = self._factory()
                    self._instance = instance
        return instance

    def reset(self) -> None:
        """Forget the instance (tests, or after settings change); the next get() reloads."""
        with self._lock:
            self._instance = None


class ModelsBySource(Generic[T]):
    """One LazyModel per source (a model id, a weights path): a process may need two at once."""

    def __init__(self, factory: Callable[[str], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._models: dict[str, LazyModel[T]] = {}

    def get(self, source: str) -> T:
        with self._lock:
            lazy = self._models.get(source)
            if lazy is None:
                lazy = self._models[source] = LazyModel(lambda: self._factory(source))
        return lazy.get()  # loads outside the lock: another source's callers need not wait

    def sources(self) -> set[str]:
        with self._lock:
            return set(self._models)

    def release(self, *, keep: set[str]) -> None:
        with self._lock:
            for source in [s for s in self._models if s not in keep]:
                del self._models[source]

    def reset(self) -> None:
        with self._lock:
            self._models.clear()
