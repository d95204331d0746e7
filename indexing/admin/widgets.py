"""What the admin pages draw: a photo or crop as a small thumbnail."""

from __future__ import annotations

from django.utils.html import format_html

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
