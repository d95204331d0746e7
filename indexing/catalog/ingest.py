"""Datasets and ingestion: register a dataset folder, store its photos once each.

An image is ingested once per dataset (by sha256), so rerunning an ingestion adds
nothing twice. Stored photos wait as ``pending`` until a job processes them
(indexing.pipeline.jobs).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from indexing.catalog.guards import refuse_if_deleting
from indexing.models import Dataset, SourceImage
from indexing.vision.errors import ImageError
from indexing.vision.formats import identify_raster

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def dataset_for_path(dataset_path: Path) -> Dataset:
    """The Dataset registered for a folder (by extract_coco_subset), or a new one for it."""
    dataset_path = Path(dataset_path).resolve()
    if not dataset_path.is_dir():
        raise FileNotFoundError(f"Dataset folder {dataset_path} does not exist.")
    existing = Dataset.objects.filter(root_path=str(dataset_path)).first()
    if existing:
        return existing
    splits = (
        sorted(p.name for p in (dataset_path / "images").iterdir() if p.is_dir())
        if (dataset_path / "images").is_dir()
        else []
    )
    dataset, _ = Dataset.objects.get_or_create(
        name=dataset_path.parent.name or dataset_path.name,
        version=dataset_path.name,
        defaults={"source": str(dataset_path), "root_path": str(dataset_path), "split_names": splits},
    )
    return dataset


def dataset_image_files(dataset_path: Path, split: str | None = None) -> list[tuple[Path, str]]:
    """(file, split) for each image of a dataset folder, sorted.

    A YOLOv5 layout (``images/<split>/``) gives each image its split; any other
    folder is taken as a flat collection of photos with no split.
    """
    dataset_path = Path(dataset_path)
    images_root = dataset_path / "images"
    if images_root.is_dir():
        splits = [split] if split else sorted(p.name for p in images_root.iterdir() if p.is_dir())
        folders = [(images_root / name, name) for name in splits]
    else:
        folders = [(dataset_path, "")]
    files = []
    for folder, split_name in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"No split folder {folder} in the dataset.")
        files += [(p, split_name) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    return files


def ingest_image(dataset: Dataset, name: str, data: bytes, split: str = "") -> tuple[SourceImage, bool]:
    """Store one photo in ``dataset`` unless the same bytes are already there.

    Returns (image, created). Raises ImageError, storing nothing, unless the data is a
    raster image (see identify_raster): stored files are served from the site's origin,
    so they are named ``<sha256>.<decoded format>``, never by the uploader's extension.
    The file is stored before the row so a row never points at a missing file; a lost
    race for the same sha256 deletes its copy, unless the winner's row names that file
    (storages that overwrite, as GCS does, give both the same name).
    """
    info = identify_raster(data, name=Path(name).name or "The file")
    digest = hashlib.sha256(data).hexdigest()
    existing = SourceImage.objects.filter(dataset=dataset, sha256=digest).first()
    if existing:
        return existing, False
    image = SourceImage(
        dataset=dataset,
        sha256=digest,
        split=split,
        original_name=Path(name).name,
        width=info.width,
        height=info.height,
    )
    image.file.save(f"{digest}{info.extension}", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            image.save()
    except IntegrityError:
        winner = SourceImage.objects.get(dataset=dataset, sha256=digest)
        # On GCS both uploads wrote the same name (no suffix for a taken one): that file is the winner's now.
        if not SourceImage.objects.filter(file=image.file.name).exists():
            default_storage.delete(image.file.name)
        return winner, False
    return image, True


@dataclass
class IngestResult:
    added: int = 0
    existing: int = 0
    # File name -> why it was not stored (not an image, over the pixel limit, ...).
    refused: dict[str, str] = field(default_factory=dict)


def ingest_files(dataset: Dataset, files: Iterable[tuple[Path, str]], progress=None) -> IngestResult:
    """Store each file of a folder; files that are not photos are refused with a reason and skipped.

    DatasetDeleting (storing nothing) for a dataset being deleted.
    """
    refuse_if_deleting(dataset.pk)
    result = IngestResult()
    for path, split in files:
        try:
            _, created = ingest_image(dataset, path.name, path.read_bytes(), split)
        except ImageError as exc:
            result.refused[str(path)] = str(exc)
            logger.warning("Not ingested: %s", exc)
        else:
            if created:
                result.added += 1
            else:
                result.existing += 1
        if progress is not None:
            progress.update(1)
    return result


def ingest_uploads(*, dataset: Dataset, photos: Iterable[tuple[str, bytes]], split: str = "") -> int:
    """Store photos uploaded in the admin (already checked by its form); how many were new.

    DatasetDeleting (storing nothing) for a dataset being deleted.
    """
    refuse_if_deleting(dataset.pk)
    return sum(ingest_image(dataset, name, data, split)[1] for name, data in photos)


def pending_image_ids(dataset: Dataset, split: str | None = None) -> list[int]:
    images = SourceImage.objects.filter(dataset=dataset, status=SourceImage.Status.PENDING)
    if split:
        images = images.filter(split=split)
    return list(images.order_by("id").values_list("id", flat=True))
