"""Curation: browse datasets, images and crops; deactivate bad crops."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from indexing import curation, deletion, duplicate_admin, duplicate_groups, ingest, jobs, recovery  # noqa: F401 (registers)
from indexing.forms import DatasetForm, SourceImageForm
from indexing.jobs import IndexingUnavailable
from indexing.models import INDEX_PERMISSION, Crop, Dataset, IndexBuild, IndexingJob, SourceImage

THUMBNAIL_PX = 96


def thumbnail(file_field, size: int = THUMBNAIL_PX) -> str:
    if not file_field:
        return "—"
    return format_html(
        '<img src="{}" style="max-width:{}px;max-height:{}px" loading="lazy" alt="">',
        file_field.url,
        size,
        size,
    )


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetForm
    list_display = ("name", "version", "status", "source", "image_count", "created")
    search_fields = ("name", "version", "source", "notes")
    list_filter = ("name",)
    readonly_fields = ("created", "status", "deletion_total")
    actions = ("index_dataset", "retry_failed", "rebuild_index", "recompute_duplicates", "delete_with_files")

    def save_model(self, request: HttpRequest, obj: Dataset, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        uploads = form.cleaned_data.get("upload_images") or []
        if not uploads:
            return
        split = form.cleaned_data.get("upload_split") or ""
        added = ingest.ingest_uploads(dataset=obj, photos=uploads, split=split)
        stored = f"{added} new photo(s) added ({len(uploads) - added} already there)"
        try:
            # The indexing task is sent when the admin's transaction commits (see enqueue_dataset_indexing).
            job = jobs.enqueue_dataset_indexing(obj)
        except IndexingUnavailable as exc:
            self.message_user(request, f"{stored}; not indexed: {exc}", messages.WARNING)
            return
        self.message_user(request, f"{stored}; indexing job {job.pk} queued.")

    def has_index_permission(self, request: HttpRequest) -> bool:
        """The "index" permission of the actions below: run the models and rebuild the index."""
        return request.user.has_perm(INDEX_PERMISSION)

    @admin.action(description="Index dataset (queue its new photos)", permissions=["index"])
    def index_dataset(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        try:
            queued = [jobs.enqueue_dataset_indexing(dataset) for dataset in queryset]
        except IndexingUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Queued {len(queued)} indexing job(s): {', '.join(str(j.pk) for j in queued)}.")

    @admin.action(description="Rebuild the search index (FAISS) over all active crops", permissions=["index"])
    def rebuild_index(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        try:
            jobs.queue_index_update(rebuild=True)
        except IndexingUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, "Index rebuild queued.")

    @admin.action(description="Retry failed photos (index them again)", permissions=["index"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        try:
            queued = [job for dataset in queryset if (job := recovery.retry_failed(dataset=dataset))]
        except IndexingUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Queued {len(queued)} retry job(s) over failed photos.")

    # Django's own delete would leave the files in storage and the vectors in the index:
    # every delete here (the action, the delete page) goes through indexing.deletion.
    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Delete selected datasets (photos, crops, files, index vectors)", permissions=["delete"])
    def delete_with_files(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        try:
            self.delete_queryset(request, queryset)
        except IndexingUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, "Deleted (large datasets: deletion queued, progress on the datasets page).")

    def delete_model(self, request: HttpRequest, obj: Dataset) -> None:
        deletion.request_deletion(dataset=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        for dataset in list(queryset):
            deletion.request_deletion(dataset=dataset)

    @admin.action(description="Recompute duplicate groups of these datasets' photos", permissions=["index"])
    def recompute_duplicates(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        try:
            for dataset in queryset:
                duplicate_groups.queue_recompute(dataset_id=dataset.pk)
        except IndexingUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Duplicate recompute queued for {queryset.count()} dataset(s).")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        return super().get_queryset(request).annotate(_image_count=Count("images"))

    @admin.display(description="images", ordering="_image_count")
    def image_count(self, obj: Dataset) -> int:
        return obj._image_count


@admin.register(SourceImage)
class SourceImageAdmin(admin.ModelAdmin):
    form = SourceImageForm
    list_display = ("preview", "original_name", "dataset", "split", "width", "height", "status", "crop_count")
    list_filter = ("dataset", "split", "status")
    search_fields = ("original_name", "sha256", "error")
    readonly_fields = ("preview_large", "sha256", "width", "height", "created", "processed")
    list_select_related = ("dataset",)
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Photos are added on their dataset's page (ingest: checked, hashed, named by sha256), not here."""
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[SourceImage]:
        return super().get_queryset(request).annotate(_crop_count=Count("crops"))

    @admin.display(description="crops", ordering="_crop_count")
    def crop_count(self, obj: SourceImage) -> int:
        return obj._crop_count

    @admin.display(description="image")
    def preview(self, obj: SourceImage) -> str:
        return thumbnail(obj.file)

    @admin.display(description="image")
    def preview_large(self, obj: SourceImage) -> str:
        return thumbnail(obj.file, 480)


@admin.register(Crop)
class CropAdmin(admin.ModelAdmin):
    list_display = ("preview", "id", "label", "confidence", "dataset", "split", "is_active", "created")
    list_filter = ("is_active", "label", "image__dataset", "image__split", "detector_version", "embedder_version")
    search_fields = ("label", "image__original_name", "image__sha256")
    readonly_fields = (
        "preview_large",
        "image",
        "x1",
        "y1",
        "x2",
        "y2",
        "detector_version",
        "embedder_version",
        "created",
    )
    exclude = ("embedding",)
    list_select_related = ("image__dataset",)
    actions = ("deactivate", "reactivate")
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Crops come from the pipeline (detector box, embedding, versions); none is made by hand."""
        return False

    @admin.display(description="crop")
    def preview(self, obj: Crop) -> str:
        return thumbnail(obj.file)

    @admin.display(description="crop")
    def preview_large(self, obj: Crop) -> str:
        return thumbnail(obj.file, 320)

    @admin.display(description="dataset", ordering="image__dataset")
    def dataset(self, obj: Crop) -> Dataset:
        return obj.image.dataset

    @admin.display(description="split", ordering="image__split")
    def split(self, obj: Crop) -> str:
        return obj.image.split

    # "change": the same indexing.change_crop the API's PATCH needs (CURATE_CROPS_PERMISSION).
    @admin.action(description="Deactivate selected crops (hide them from search)", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Crop]) -> None:
        changed = curation.set_crops_active(queryset, False)
        self.message_user(request, f"{changed} crop(s) deactivated.", messages.SUCCESS)

    @admin.action(description="Reactivate selected crops", permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Crop]) -> None:
        changed = curation.set_crops_active(queryset, True)
        self.message_user(request, f"{changed} crop(s) reactivated.", messages.SUCCESS)


# Measured by the build itself (indexing.build_recall): shown, never edited.
RECALL_FIELDS = ("recall_note", "recall_at_10", "recall_queries", "latency_p50_ms", "latency_p95_ms", "recall_report")


@admin.register(IndexBuild)
class IndexBuildAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "size", "status", "recall_at_10", "latency_p95_ms", "embedder_version", "created")
    list_filter = ("status", "kind")
    search_fields = ("checksum", "kind")
    # The file is private (no URL to link to): shown by name only.
    exclude = ("file",)
    readonly_fields = ("file_name", "created", "finished", "checksum", "max_crop_id", *RECALL_FIELDS)

    @admin.display(description="file")
    def file_name(self, obj: IndexBuild) -> str:
        return obj.file.name or "—"


@admin.register(IndexingJob)
class IndexingJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "dataset",
        "split",
        "status",
        "processed_images",
        "failed_images",
        "total_images",
        "total_crops",
        "started",
        "finished",
    )
    list_filter = ("status", "dataset")
    search_fields = ("error", "dataset__name")
    readonly_fields = ("created", "started", "finished", "heartbeat")
    list_select_related = ("dataset",)
    actions = ("resume",)

    def has_index_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(INDEX_PERMISSION)

    def get_queryset(self, request: HttpRequest) -> QuerySet[IndexingJob]:
        recovery.mark_stale_jobs()  # a list that says "running" for a dead worker would mislead
        return super().get_queryset(request)

    @admin.action(description="Resume selected stale or failed jobs", permissions=["index"])
    def resume(self, request: HttpRequest, queryset: QuerySet[IndexingJob]) -> None:
        resumed, refused = [], []
        try:
            for job in queryset:
                try:
                    resumed.append(recovery.resume_job(job=job))
                except recovery.NotResumable as exc:
                    refused.append(str(exc))
        except IndexingUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)
        self.message_user(request, f"Resumed {len(resumed)} job(s).")
