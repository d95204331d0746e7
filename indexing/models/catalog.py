"""The collection: datasets, their photos and the crops found in them (with the permissions that gate them).

PostgreSQL (pgvector) is the source of truth for embeddings; FAISS builds are
derived from it and can always be rebuilt.
"""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from pgvector.django import VectorField

from indexing.vision.formats import STORED_EXTENSIONS

# The permissions that gate curation and indexing: admin actions and API writes check the same ones.
CURATE_CROPS_PERMISSION = "indexing.change_crop"
INDEX_PERMISSION = "indexing.index_dataset"
# Django's own "delete" permission, checked by the admin, the API and the datasets page alike.
DELETE_DATASET_PERMISSION = "indexing.delete_dataset"


class Dataset(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        # Being deleted (indexing.catalog.deletion): its crops are already hidden from search.
        DELETING = "deleting"

    name = models.CharField(max_length=200)
    version = models.CharField(max_length=50, default="version_1")
    source = models.CharField(
        max_length=500, blank=True, help_text="Where the images came from (path, URL, annotation file)."
    )
    split_names = models.JSONField(default=list, blank=True, help_text='e.g. ["train", "val", "test"]')
    root_path = models.CharField(
        max_length=1000, blank=True, help_text="Folder of the dataset on disk, when it has one."
    )
    created = models.DateTimeField(auto_now_add=True)
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    # Photos the dataset had when its deletion started: the deletion's progress is counted against it.
    deletion_total = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name", "version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="dataset_name_version_unique")]
        # Indexing runs the models over a whole dataset: granted on its own, not with "change".
        permissions = [("index_dataset", "Can queue indexing and rebuild the search index")]

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


def source_image_path(instance: SourceImage, filename: str) -> str:
    """``images/<dataset>/<sha[:2]>/<sha256>.<ext>``: the uploader's name never reaches storage.

    Stored photos are served from the site's origin, where a user's ``.html`` or ``.svg``
    would run as a page; only raster extensions are kept (ingest_image names files by
    their decoded format), anything else becomes an inert ``.bin``.
    """
    stem = instance.sha256 or uuid4().hex
    return f"images/{instance.dataset_id}/{stem[:2]}/{stem}{stored_extension(filename)}"


def stored_extension(filename: str) -> str:
    """The file's raster extension, or an inert ``.bin`` (never one a browser would run as a page)."""
    extension = Path(filename).suffix.lower()
    return extension if extension in STORED_EXTENSIONS else ".bin"


def crop_file_name(image: SourceImage, index: int, extension: str = ".jpg", *, tag: str = "") -> str:
    """``crops/<dataset>/<sha[:2]>/<sha256>_<index>.jpg``: the name of an image's index-th crop.

    Deterministic, so a batch redelivered after a crash overwrites its files instead of
    duplicating them (indexing.pipeline.batch writes its JPEG crops under it). A redetect
    ``tag``s its crops' names, so they never overwrite the files of the crops they replace.
    """
    stem = f"{image.sha256}_{tag}_{index}" if tag else f"{image.sha256}_{index}"
    return f"crops/{image.dataset_id}/{image.sha256[:2]}/{stem}{extension}"


def crop_image_path(instance: Crop, filename: str) -> str:
    """The upload_to of Crop.file (a crop file replaced in the admin): the pipeline's name for it.

    A crop's index is its rank among its image's crops, which the pipeline creates in
    order; the extension is the file's own, when it is a raster one.
    """
    index = Crop.objects.filter(image_id=instance.image_id, pk__lt=instance.pk).count() if instance.pk else 0
    return crop_file_name(instance.image, index, stored_extension(filename))


class SourceImage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images")
    # Width/height are set by ingestion from the decoded image (not width_field, which
    # would re-open the file from remote storage whenever the row is loaded).
    # Indexed: serving a media file looks its row up by name (visualsearch/media.py).
    file = models.ImageField(upload_to=source_image_path, max_length=500, db_index=True)
    original_name = models.CharField(max_length=500, blank=True)
    split = models.CharField(max_length=20, blank=True, db_index=True)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    processed = models.DateTimeField(null=True, blank=True)
    # The indexing job that took this image in; job progress is counted from it.
    job = models.ForeignKey("IndexingJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="images")

    class Meta:
        ordering = ["dataset", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "sha256"], name="image_sha256_unique_per_dataset"),
        ]

    def __str__(self) -> str:
        return self.original_name or self.sha256[:12]


class Crop(models.Model):
    image = models.ForeignKey(SourceImage, on_delete=models.CASCADE, related_name="crops")
    label = models.CharField(max_length=100, db_index=True)
    confidence = models.FloatField()
    # Box in source-image pixels (the detection, before crop padding).
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    file = models.ImageField(upload_to=crop_image_path, max_length=500, blank=True, db_index=True)
    embedding = VectorField(dimensions=settings.EMBEDDING_DIM)
    detector_version = models.CharField(max_length=200)
    embedder_version = models.CharField(max_length=200)

    class HiddenBy(models.TextChoices):
        """Why a crop is hidden: only the path that hid it shows it again (indexing.catalog.curation)."""

        CURATOR = "curator", "a curator"  # a person's decision: only a person shows it again
        DUPLICATE = "duplicate", "a duplicate review"  # its photo lost a "keep one"

    is_active = models.BooleanField(default=True, db_index=True, help_text="Inactive crops are never searched.")
    # is_active stays the one visibility column (search, the index tail, the reactivation stamp
    # read it); this records why it is off. A trigger (migration 0007) keeps the two in step:
    # an active crop has none, and a crop hidden by a path that names no reason counts as a
    # curator's, so no other path ever shows it again.
    hidden_by = models.CharField(
        max_length=10, choices=HiddenBy.choices, blank=True, default="", db_default="", editable=False
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    # When the crop was last made active again. Set by a database trigger (migration 0003) on
    # every path that flips is_active, so search finds a reactivated crop at once: it is
    # ranked in SQL with the crops newer than the served index (search.query.candidates).
    reactivated = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(x1__gte=0) & Q(y1__gte=0) & Q(x2__gt=F("x1")) & Q(y2__gt=F("y1")),
                name="crop_bbox_valid",
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="crop_confidence_0_1",
            ),
        ]
        # No pgvector ANN index on the embedding: FAISS serves every approximate search, and
        # PostgreSQL ranks exactly the few rows FAISS does not hold yet (search.query.candidates).
        # Maintaining an HNSW index cut the store step's throughput (bench/store.py, docs/benchmarks.md
        # "Search and store at 1M crops"), and its scans drop rows under filters (pgvector 0.6 has no iterative scan).

    def __str__(self) -> str:
        return f"{self.label} #{self.pk}"

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)
