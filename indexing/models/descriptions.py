"""Words about what was found: descriptions by a vision-language model, their prompts, their runs."""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q

from indexing.models.catalog import Crop, Dataset, SourceImage

# The text search configuration of the column and of every query against it: the same one,
# or PostgreSQL's stemming differs between them and the GIN index is not used.
SEARCH_CONFIG = "english"


class Description(models.Model):
    """One model's words about one crop (or a whole photo), with the prompt that asked for them."""

    crop = models.ForeignKey(Crop, null=True, blank=True, on_delete=models.CASCADE, related_name="descriptions")
    image = models.ForeignKey(SourceImage, null=True, blank=True, on_delete=models.CASCADE, related_name="descriptions")
    text = models.TextField()
    model = models.CharField(max_length=300, help_text="The describer's version (backend, model, revision).")
    prompt = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    # Computed by PostgreSQL from the text, so no write path can forget it; GIN-indexed for @@.
    search = models.GeneratedField(
        expression=SearchVector("text", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["id"]
        indexes = [GinIndex(fields=["search"], name="description_search_gin")]
        constraints = [
            models.CheckConstraint(
                condition=Q(crop__isnull=False, image__isnull=True) | Q(crop__isnull=True, image__isnull=False),
                name="description_of_crop_or_photo",
            ),
            # One description per crop and model: describing again skips what is done (resumable).
            models.UniqueConstraint(fields=["crop", "model"], name="description_once_per_crop_model"),
            models.UniqueConstraint(fields=["image", "model"], name="description_once_per_photo_model"),
        ]

    def __str__(self) -> str:
        return self.text[:60]


class DescriptionPrompt(models.Model):
    """The prompt used for crops of one label; the row with no label is every other label's."""

    label = models.CharField(
        max_length=100, unique=True, blank=True, help_text="A detector label (car, person); empty: every other label."
    )
    prompt = models.TextField(
        help_text="{label} is replaced by the crop's label. For a chat model (Ollama, vLLM) an instruction; "
        "for the local BLIP captioner, the caption's first words."
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label or "(every other label)"


class DescriptionRun(models.Model):
    """One pass of a describer over crops (after a batch is indexed, or manage.py describe_crops)."""

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.CASCADE, related_name="description_runs"
    )
    model = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    total = models.PositiveIntegerField(default=0)
    described = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"descriptions {self.pk} ({self.status})"
