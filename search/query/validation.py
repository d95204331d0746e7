"""Checks on a query's parts, before any model or database work; each failure is a SearchInputError."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from search.query.errors import SearchInputError, UploadTooLarge


def validate_k(k: int | None) -> int:
    k = settings.SEARCH_DEFAULT_K if k is None else k
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= settings.SEARCH_MAX_K:
        raise SearchInputError(f"k must be a whole number from 1 to {settings.SEARCH_MAX_K}.")
    return k


def check_label_count(count: int) -> None:
    """Refuse more labels than there are classes (duplicates count): before any per-label work."""
    known = settings.DETECTOR_CLASSES
    if count > len(known):
        raise SearchInputError(
            f"Too many labels: there are only {len(known)} to choose from ({', '.join(known)}), each at most once."
        )


def validate_labels(labels: Sequence[str] | str | None) -> list[str] | None:
    """The known labels asked for, each once; ``"car,person"`` counts as two.

    Counted before anything is done per label, and each value split at most that many
    times: a body naming "person" 600,000 times costs one refusal, not 600,000 filters.
    """
    if not labels:
        return None
    values = [labels] if isinstance(labels, str) else labels
    check_label_count(len(values))  # before touching a single item
    limit = len(settings.DETECTOR_CLASSES)
    names: list[str] = []
    for value in values:
        names += [part.strip() for part in str(value).split(",", limit) if part.strip()]
        check_label_count(len(names))
    unknown = sorted(set(names) - set(settings.DETECTOR_CLASSES))
    if unknown:
        shown = ", ".join(name if len(name) <= 40 else name[:40] + "..." for name in unknown)
        raise SearchInputError(f"Unknown label(s): {shown}. Known labels: {', '.join(settings.DETECTOR_CLASSES)}.")
    return list(dict.fromkeys(names)) or None


def validate_min_score(min_score: float | None) -> float | None:
    if min_score is not None and not -1.0 <= min_score <= 1.0:
        raise SearchInputError("min_score must be between -1 and 1 (cosine similarity).")
    return min_score


# "x1,y1,x2,y2": four numbers in pixels take ~30 characters; more is not a box.
BOX_MAX_CHARS = 100


def check_box_text(raw: str) -> None:
    """Refuse a box's text by its length, before it is split: a 1 MB ``box=`` would be 250,000 numbers."""
    if len(raw) > BOX_MAX_CHARS:
        raise SearchInputError(
            f"box is {len(raw):,} characters long; four numbers x1,y1,x2,y2 take at most {BOX_MAX_CHARS}."
        )


def check_upload_size(size: int) -> None:
    if size > settings.MAX_UPLOAD_BYTES:
        raise UploadTooLarge(
            f"The upload is {size:,} bytes; the limit is {settings.MAX_UPLOAD_BYTES:,} bytes (MAX_UPLOAD_BYTES)."
        )


def read_upload(upload) -> bytes:
    """An uploaded file's bytes, refused by its declared size before reading it into memory."""
    if upload is None:
        raise SearchInputError("Choose a photo to search with.")
    check_upload_size(upload.size)
    return upload.read()


def validate_text(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise SearchInputError("Type a few words to search for.")
    query = query.strip()
    if len(query) > settings.SEARCH_MAX_QUERY_CHARS:
        raise SearchInputError(
            f"The query is {len(query)} characters long; the limit is {settings.SEARCH_MAX_QUERY_CHARS}."
        )
    return query
