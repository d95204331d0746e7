"""Descriptions in the admin: the per-label prompts (editable), the descriptions and runs (read-only)."""

from __future__ import annotations

from django.contrib import admin

from indexing.admin.system import ReadOnly
from indexing.models import Description, DescriptionPrompt, DescriptionRun


@admin.register(DescriptionPrompt)
class DescriptionPromptAdmin(admin.ModelAdmin):
    """A curator's words for each label: the next description run asks with them."""

    list_display = ("__str__", "prompt", "updated")
    search_fields = ("label", "prompt")


@admin.register(Description)
class DescriptionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "crop", "text", "model", "created")
    list_filter = ("model",)
    search_fields = ("text",)
    raw_id_fields = ("crop", "image")
    exclude = ("search",)


@admin.register(DescriptionRun)
class DescriptionRunAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "dataset", "model", "status", "described", "total", "error", "created", "finished")
    list_filter = ("status",)
