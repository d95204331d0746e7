"""Duplicate groups in the admin: review with thumbnails, resolve, "not duplicates", remembered pairs.

Each action is one call into indexing.duplicates.groups; they need indexing.change_crop,
the permission the API and the review page ask for (keeping one deactivates crops).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from indexing.admin.widgets import thumbnail
from indexing.duplicates import groups as duplicate_groups
from indexing.models import CURATE_CROPS_PERMISSION, DuplicateGroup, DuplicateMember, NotDuplicatePair


class DuplicateMemberInline(admin.TabularInline):
    model = DuplicateMember
    fk_name = "group"
    fields = ("preview", "image", "size", "tier", "score", "evidence", "matched")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="photo")
    def preview(self, obj: DuplicateMember) -> str:
        return thumbnail(obj.image.file)

    @admin.display(description="size")
    def size(self, obj: DuplicateMember) -> str:
        return f"{obj.image.width}×{obj.image.height}"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class CuratesCrops:
    def has_curate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CURATE_CROPS_PERMISSION)


@admin.register(DuplicateGroup)
class DuplicateGroupAdmin(CuratesCrops, admin.ModelAdmin):
    list_display = ("id", "status", "size", "tiers", "kept", "updated")
    list_filter = ("status", "members__tier")
    readonly_fields = ("status", "kept", "created", "updated")
    inlines = [DuplicateMemberInline]
    actions = ("resolve_keep_largest", "mark_not_duplicates")

    def get_queryset(self, request: HttpRequest) -> QuerySet[DuplicateGroup]:
        return super().get_queryset(request).annotate(_size=Count("members")).distinct()

    @admin.display(description="photos", ordering="_size")
    def size(self, obj: DuplicateGroup) -> int:
        return obj._size

    @admin.display(description="matched by")
    def tiers(self, obj: DuplicateGroup) -> str:
        found = obj.members.values_list("tier", "score")
        return ", ".join(f"{tier} {score:.3f}" for tier, score in found)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # groups come from matching, never by hand

    @admin.action(
        description="Resolve: keep each group's largest photo, hide the others' crops", permissions=["curate"]
    )
    def resolve_keep_largest(self, request: HttpRequest, queryset: QuerySet[DuplicateGroup]) -> None:
        count = duplicate_groups.resolve_groups(group_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Resolved {count} group(s).", messages.SUCCESS)

    @admin.action(description="Not duplicates (never group these photos again)", permissions=["curate"])
    def mark_not_duplicates(self, request: HttpRequest, queryset: QuerySet[DuplicateGroup]) -> None:
        groups = list(queryset.values_list("pk", flat=True))
        pairs = sum(duplicate_groups.not_duplicates(group_id=pk) for pk in groups)
        self.message_user(request, f"{len(groups)} group(s) dissolved; {pairs} pair(s) remembered.", messages.SUCCESS)


@admin.register(NotDuplicatePair)
class NotDuplicatePairAdmin(admin.ModelAdmin):
    list_display = ("id", "first", "second", "created")
    raw_id_fields = ("first", "second")
