"""Indexing services: ingest photos, detect-crop-embed them, build FAISS indexes.

Management commands, Celery tasks and admin actions are thin adapters over these
functions. Every step is idempotent: an image is ingested once per dataset (by
sha256), processed once (its crops are written in the same transaction that marks
it done), so a rerun or a redelivered task after a crash adds nothing twice.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from PIL import Image

from indexing import ann
from indexing.models import Crop, Dataset, IndexBuild, IndexingJob, SourceImage
from indexing.vectors import load_active_vectors
from indexing.vision.crops import CropPolicy, crop_box, crop_image
from indexing.vision.detector import Detector, get_detector
from indexing.vision.embedder import Embedder, get_embedder
from indexing.vision.errors import ImageError, ModelLoadError
from indexing.vision.formats import identify_raster
from indexing.vision.images import load_image

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
CROP_JPEG_QUALITY = 90
# A build still "building" after this long was left by a crashed worker.
STALE_BUILD_AFTER = timedelta(hours=6)


# --- Datasets and ingestion ------------------------------------------------------


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
    race for the same sha256 deletes the copy.
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
        default_storage.delete(image.file.name)
        return SourceImage.objects.get(dataset=dataset, sha256=digest), False
    return image, True


@dataclass
class IngestResult:
    added: int = 0
    existing: int = 0
    # File name -> why it was not stored (not an image, over the pixel limit, ...).
    refused: dict[str, str] = field(default_factory=dict)


def ingest_files(dataset: Dataset, files: Iterable[tuple[Path, str]], progress=None) -> IngestResult:
    """Store each file of a folder; files that are not photos are refused with a reason and skipped."""
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


def pending_image_ids(dataset: Dataset, split: str | None = None) -> list[int]:
    images = SourceImage.objects.filter(dataset=dataset, status=SourceImage.Status.PENDING)
    if split:
        images = images.filter(split=split)
    return list(images.order_by("id").values_list("id", flat=True))


# --- Processing: detect, crop, embed, store ----------------------------------------


@dataclass
class PlannedCrop:
    label: str
    confidence: float
    box: tuple[float, float, float, float]
    pixels: Image.Image


@dataclass
class BatchResult:
    done: int = 0
    failed: int = 0
    crops: int = 0
    skipped: int = 0
    failures: dict[int, str] = field(default_factory=dict)


def plan_crops(image: Image.Image, detections: Sequence, policy: CropPolicy) -> list[PlannedCrop]:
    """The crops the policy keeps for one image's detections."""
    planned = []
    for detection in detections:
        box = crop_box(detection.box, image.size, policy)
        if box is not None:
            planned.append(PlannedCrop(detection.label, detection.confidence, detection.box, crop_image(image, box)))
    return planned


def process_images(image_ids: Sequence[int]) -> BatchResult:
    """Detect, crop and embed the given images; store their crops; mark them done.

    Images already done or failed are skipped, so a redelivered batch is harmless.
    An image that cannot be decoded, or that a model fails on, is marked failed with
    its reason; the rest of the batch goes on.
    """
    result = BatchResult()
    images = list(SourceImage.objects.filter(pk__in=image_ids, status=SourceImage.Status.PENDING).order_by("id"))
    result.skipped = len(set(image_ids)) - len(images)
    decoded: list[tuple[SourceImage, Image.Image]] = []
    for image in images:
        try:
            decoded.append((image, decode_stored_image(image)))
        except ImageError as exc:
            if mark_failed(image, str(exc)):
                result.failed += 1
                result.failures[image.pk] = str(exc)
    if not decoded:
        return result
    detector, embedder, policy = get_detector(), get_embedder(), CropPolicy.from_settings()
    outcomes = analyse_batch([pixels for _, pixels in decoded], detector, embedder, policy)
    for (image, pixels), outcome in zip(decoded, outcomes, strict=True):
        if isinstance(outcome, str):
            if mark_failed(image, outcome):
                result.failed += 1
                result.failures[image.pk] = outcome
            continue
        crops, image_vectors = outcome
        if store_crops(image, pixels.size, crops, image_vectors, detector.version, embedder.version):
            result.done += 1
            result.crops += len(crops)
        else:
            result.skipped += 1
    return result


# An image's crops and their vectors, or why the models failed on it.
Analysis = tuple[list[PlannedCrop], Sequence] | str


def analyse_batch(
    images: Sequence[Image.Image], detector: Detector, embedder: Embedder, policy: CropPolicy
) -> list[Analysis]:
    """Crops and vectors for each image, the batch at once; if a model raises, one image at a time.

    Then the error is recorded against the image it happens on, and its batch-mates are
    indexed: one odd photo never fails a batch. A model that cannot load fails them all.
    """
    try:
        return analyse(images, detector, embedder, policy)
    except ModelLoadError:
        raise
    except Exception:  # any model error: find the image it belongs to
        logger.warning("The models failed on a batch of %d images; retrying one by one", len(images), exc_info=True)
    outcomes: list[Analysis] = []
    for image in images:
        try:
            outcomes += analyse([image], detector, embedder, policy)
        except ModelLoadError:
            raise
        except Exception as exc:  # this image's failure, recorded as its reason
            logger.exception("The models failed on one image")
            outcomes.append(f"The detector or embedder failed on this image: {type(exc).__name__}: {exc}")
    return outcomes


def analyse(
    images: Sequence[Image.Image], detector: Detector, embedder: Embedder, policy: CropPolicy
) -> list[Analysis]:
    """Detect, crop and embed the batch in one go; each image's crops with their vectors."""
    detections = detector.detect(images)
    planned = [plan_crops(pixels, found, policy) for pixels, found in zip(images, detections, strict=True)]
    all_crops = [crop for crops in planned for crop in crops]
    vectors = embedder.embed_images([crop.pixels for crop in all_crops]) if all_crops else []
    outcomes: list[Analysis] = []
    offset = 0
    for crops in planned:
        outcomes.append((crops, vectors[offset : offset + len(crops)]))
        offset += len(crops)
    return outcomes


def decode_stored_image(image: SourceImage) -> Image.Image:
    try:
        with image.file.open("rb") as handle:
            data = handle.read()
    except (FileNotFoundError, OSError) as exc:
        raise ImageError(f"The stored file of {image} cannot be read: {exc}") from exc
    return load_image(data, name=f"Image {image.original_name or image.file.name}")


def mark_failed(image: SourceImage, error: str) -> bool:
    """Mark a pending image failed; False if another worker already finished it."""
    changed = SourceImage.objects.filter(pk=image.pk, status=SourceImage.Status.PENDING).update(
        status=SourceImage.Status.FAILED, error=error[:2000], processed=timezone.now()
    )
    return changed == 1


def store_crops(
    image: SourceImage,
    size: tuple[int, int],
    crops: Sequence[PlannedCrop],
    vectors,
    detector_version: str,
    embedder_version: str,
) -> bool:
    """Write an image's crops and mark it done, atomically; False if it was not pending.

    Crop files are written first under deterministic names, so a crash before the
    commit leaves files that the retry overwrites rather than duplicates.
    """
    names = [save_crop_file(image, index, crop.pixels) for index, crop in enumerate(crops)]
    with transaction.atomic():
        locked = SourceImage.objects.select_for_update().filter(pk=image.pk, status=SourceImage.Status.PENDING)
        if not locked.exists():
            return False
        Crop.objects.bulk_create(
            Crop(
                image=image,
                label=crop.label,
                confidence=crop.confidence,
                x1=crop.box[0],
                y1=crop.box[1],
                x2=crop.box[2],
                y2=crop.box[3],
                file=name,
                embedding=vector,
                detector_version=detector_version,
                embedder_version=embedder_version,
            )
            for crop, name, vector in zip(crops, names, vectors, strict=True)
        )
        locked.update(status=SourceImage.Status.DONE, error="", width=size[0], height=size[1], processed=timezone.now())
    return True


def save_crop_file(image: SourceImage, index: int, pixels: Image.Image) -> str:
    name = f"crops/{image.dataset_id}/{image.sha256[:2]}/{image.sha256}_{index}.jpg"
    buffer = io.BytesIO()
    pixels.save(buffer, format="JPEG", quality=CROP_JPEG_QUALITY)
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(buffer.getvalue()))


def iter_batches(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


# --- Jobs ----------------------------------------------------------------------------


def create_job(dataset: Dataset, split: str | None = None) -> tuple[IndexingJob, list[int]]:
    """A job over the dataset's pending images (of one split, or all)."""
    ids = pending_image_ids(dataset, split)
    job = IndexingJob.objects.create(dataset=dataset, split=split or "", total_images=len(ids))
    SourceImage.objects.filter(pk__in=ids).update(job=job)
    return job, ids


def job_image_ids(job: IndexingJob) -> list[int]:
    return list(job.images.filter(status=SourceImage.Status.PENDING).order_by("id").values_list("id", flat=True))


def start_job(job: IndexingJob) -> None:
    IndexingJob.objects.filter(pk=job.pk, started__isnull=True).update(started=timezone.now())
    IndexingJob.objects.filter(pk=job.pk, status=IndexingJob.Status.QUEUED).update(status=IndexingJob.Status.RUNNING)


def refresh_job_progress(job_id: int) -> bool:
    """Recount a job's progress from its images; True when this call finished the job.

    Counting from the rows (not adding up batch results) keeps the numbers right when
    a batch is redelivered after a crash: images it already finished count once.
    """
    images = SourceImage.objects.filter(job_id=job_id)
    counts = images.aggregate(
        processed=Count("id", filter=~Q(status=SourceImage.Status.PENDING)),
        failed=Count("id", filter=Q(status=SourceImage.Status.FAILED)),
    )
    crops = Crop.objects.filter(image__job_id=job_id).count()
    IndexingJob.objects.filter(pk=job_id).update(
        processed_images=Greatest(F("processed_images"), counts["processed"]),
        failed_images=Greatest(F("failed_images"), counts["failed"]),
        total_crops=Greatest(F("total_crops"), crops),
    )
    finished = IndexingJob.objects.filter(
        pk=job_id, status=IndexingJob.Status.RUNNING, processed_images__gte=F("total_images")
    ).update(status=IndexingJob.Status.DONE, finished=timezone.now())
    return finished == 1


def finish_job(job: IndexingJob) -> IndexingJob:
    """Close a job whose images were all handled (also when none were pending)."""
    refresh_job_progress(job.pk)
    IndexingJob.objects.filter(pk=job.pk, status__in=[IndexingJob.Status.QUEUED, IndexingJob.Status.RUNNING]).update(
        status=IndexingJob.Status.DONE, finished=timezone.now()
    )
    job.refresh_from_db()
    return job


def fail_job(job_id: int, error: str) -> None:
    IndexingJob.objects.filter(pk=job_id).update(
        status=IndexingJob.Status.FAILED, error=error[:4000], finished=timezone.now()
    )


def run_job(job: IndexingJob, image_ids: Sequence[int], batch_size: int | None = None, progress=None) -> IndexingJob:
    """Process a job's images in this process, batch by batch (the CLI path)."""
    start_job(job)
    for batch in iter_batches(image_ids, batch_size or settings.INDEXING_BATCH_SIZE):
        result = process_images(batch)
        refresh_job_progress(job.pk)
        if progress is not None:
            progress(result, len(batch))
    return finish_job(job)


# --- FAISS index builds ----------------------------------------------------------


def build_index(kind: str | None = None, use_gpu: bool | None = None) -> IndexBuild:
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
        index = ann.build_index(vectors, ids, build.kind, settings.ANN_USE_GPU if use_gpu is None else use_gpu)
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


def load_build(build: IndexBuild):
    """Read a build's file and check it against its recorded checksum."""
    with build.file.open("rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != build.checksum:
        raise ValueError(
            f"Index build {build.pk} file {build.file.name} is corrupt: sha256 {digest} != {build.checksum}"
        )
    return ann.deserialize(data)


# --- Curation ------------------------------------------------------------------------


def set_crops_active(crops, active: bool) -> int:
    """Hide crops from search (or show them again); returns how many rows changed.

    Search re-checks ``is_active`` on every result, so this takes effect at once;
    the next index build drops inactive crops from FAISS too.
    """
    return crops.update(is_active=active)


# --- Read models for pages and the API ------------------------------------------------


def datasets_with_counts():
    """Datasets with their image, status and crop counts, for the datasets page and API."""
    return Dataset.objects.annotate(
        image_count=Count("images", distinct=True),
        images_done=Count("images", filter=Q(images__status=SourceImage.Status.DONE), distinct=True),
        images_failed=Count("images", filter=Q(images__status=SourceImage.Status.FAILED), distinct=True),
        crop_count=Count("images__crops", distinct=True),
    ).order_by("name", "version")
