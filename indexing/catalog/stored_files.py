"""Files in a Django storage, listed and deleted by prefix: local folders and GCS buckets alike."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.core.files.storage import Storage


def walk_files(storage: Storage, prefix: str) -> Iterator[str]:
    """Every file name under ``prefix`` (a folder, ``images/3``), recursively; nothing when it is absent."""
    prefix = prefix.rstrip("/")
    try:
        folders, files = storage.listdir(prefix)
    except FileNotFoundError:  # a local folder never created; a bucket just lists nothing
        return
    for name in files:
        yield f"{prefix}/{name}" if prefix else name
    for folder in folders:
        yield from walk_files(storage, f"{prefix}/{folder}" if prefix else folder)


def delete_files(storage: Storage, names: Iterable[str]) -> int:
    """Delete each named file; one already gone is no error (both backends ignore it). How many names."""
    deleted = 0
    for name in names:
        if name:
            storage.delete(name)
            deleted += 1
    return deleted
