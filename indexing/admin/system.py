"""System records in the admin, read-only: index builds and indexing jobs.

They are what the workers wrote; editing one by hand breaks what reads it (a build's
``params`` with a huge efSearch stalls every search, its ``max_crop_id`` decides what the
index tail ranks in SQL). Staff see them; the only write is the "resume" action, one call
into indexing.pipeline.recovery with the same permission as the API's resume.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from indexing.models import INDEX_PERMISSION, IndexBuild, IndexingJob
from indexing.pipeline import recovery
from indexing.queue import IndexingUnavailable


class ReadOnly:
    """No add, change or delete page writes: the change page shows the record."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(IndexBuild)
class IndexBuildAdmin(ReadOnly, admin.ModelAdmin):
    # recall_at_10 and latency: measured by the build itself (indexing.ann.recall.measure).
    list_display = ("id", "kind", "size", "status", "recall_at_10", "latency_p95_ms", "embedder_version", "created")
    list_filter = ("status", "kind")
    search_fields = ("checksum", "kind")
    # The file is private (no URL to link to): shown by name only.
    exclude = ("file",)
    readonly_fields = ("file_name",)

    @admin.display(description="file")
    def file_name(self, obj: IndexBuild) -> str:
        return obj.file.name or "—"


@admin.register(IndexingJob)
class IndexingJobAdmin(ReadOnly, admin.ModelAdmin):
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
    list_select_related = ("dataset",)
    actions = ("resume",)

    def has_index_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(INDEX_PERMISSION)

    def get_queryset(self, request: HttpRequest) -> QuerySet[IndexingJob]:
        recovery.mark_stale_jobs_if_due()  # a list that says "running" for a dead worker would mislead
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
