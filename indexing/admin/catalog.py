"""Curation: browse datasets, images and crops; deactivate bad crops.

Only curation is edited here: a crop's visibility and label, a dataset's metadata. What
the system wrote (a photo's dataset, file and hash, crop boxes and files) is read-only:
moving a photo to another dataset would put its file under the wrong dataset's prefix,
where that dataset's deletion sweeps it. Builds and jobs are read-only (system_admin).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from indexing.admin.forms import DatasetForm
from indexing.admin.widgets import thumbnail
from indexing.catalog import curation, deletion, ingest
from indexing.catalog.guards import DatasetDeleting
from indexing.duplicates import groups as duplicate_groups
from indexing.models import INDEX_PERMISSION, Crop, Dataset, SourceImage
from indexing.pipeline import jobs, recovery
from indexing.queue import IndexingUnavailable


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
        try:
            added = ingest.ingest_uploads(dataset=obj, photos=uploads, split=split)
        except DatasetDeleting as exc:
            self.message_user(request, f"Photos not stored: {exc}", messages.ERROR)
            return
        stored = f"{added} new photo(s) added ({len(uploads) - added} already there)"
        if not self.has_index_permission(request):  # indexing runs the models: its own permission
            self.message_user(request, f"{stored}; not indexed: indexing needs the index_dataset permission.")
            return
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
    # every delete here (the action, the delete page) goes through indexing.catalog.deletion.
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

    def get_deleted_objects(self, objs, request: HttpRequest):
        """The confirmation page: counts, not every photo and crop (bounded), and no per-row delete
        permission asked for photos and crops, which the admin never deletes itself: the service does."""
        objs = list(objs)
        counts = {
            "datasets": len(objs),
            "photos": SourceImage.objects.filter(dataset__in=objs).count(),
            "crops": Crop.objects.filter(image__dataset__in=objs).count(),
        }
        return [str(dataset) for dataset in objs], counts, set(), []

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
    list_display = ("preview", "original_name", "dataset", "split", "width", "height", "status", "crop_count")
    list_filter = ("dataset", "split", "status")
    search_fields = ("original_name", "sha256", "error")
    # Only its display name is curation; the rest is what ingest and the pipeline recorded.
    fields = ("preview_large", "original_name", "dataset", "file", "split", "sha256", "width", "height")
    fields += ("status", "error", "job", "created", "processed")
    readonly_fields = tuple(f for f in fields if f != "original_name")
    list_select_related = ("dataset",)
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Photos are added on their dataset's page (ingest: checked, hashed, named by sha256), not here."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SourceImage | None = None) -> bool:
        """Django's delete would leave the photo's files and its vectors in the index: hide its crops,
        or delete its dataset (indexing.catalog.deletion)."""
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
    # Curation: its visibility and its label. The rest is the pipeline's (box, file, models).
    fields = ("preview_large", "is_active", "hidden_by", "label", "confidence", "image", "file")
    fields += ("x1", "y1", "x2", "y2", "detector_version", "embedder_version", "created")
    readonly_fields = tuple(f for f in fields if f not in ("is_active", "label"))
    list_select_related = ("image__dataset",)
    actions = ("deactivate", "reactivate")
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Crops come from the pipeline (detector box, embedding, versions); none is made by hand."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Crop | None = None) -> bool:
        """Hide a crop instead: a deleted one's file would stay, and its photo's redetect would bring it back."""
        return False

    def save_model(self, request: HttpRequest, obj: Crop, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "is_active" in form.changed_data:  # a curator's own hide or show, recorded as theirs
            curation.set_crops_active(Crop.objects.filter(pk=obj.pk), obj.is_active)

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
