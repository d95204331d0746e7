"""Files in a Django storage: a stored photo decoded; files listed and deleted by prefix (local or GCS)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.core.files.storage import Storage
from PIL import Image

from indexing.models import SourceImage
from indexing.vision.errors import ImageError
from indexing.vision.images import load_image


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


def decode_stored_image(image: SourceImage) -> Image.Image:
    try:
        with image.file.open("rb") as handle:
            data = handle.read()
    except (FileNotFoundError, OSError) as exc:
        raise ImageError(f"The stored file of {image} cannot be read: {exc}") from exc
    return load_image(data, name=f"Image {image.original_name or image.file.name}")
