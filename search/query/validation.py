"""Checks on a query's parts, before any model or database work; each failure is a SearchInputError.

Messages are in the reader's language (the request's, set by LocaleMiddleware), for the page and the API alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.utils.translation import gettext as _

from indexing.served_models import served_classes
from search.label_names import display_name, stored_labels
from search.query.errors import SearchInputError, UploadTooLarge


def validate_k(k: int | None) -> int:
    k = settings.SEARCH_DEFAULT_K if k is None else k
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= settings.SEARCH_MAX_K:
        raise SearchInputError(_("k must be a whole number from 1 to %(max)d.") % {"max": settings.SEARCH_MAX_K})
    return k


def check_label_count(count: int) -> None:
    """Refuse more labels than there are classes (duplicates count): before any per-label work."""
    known = served_classes()
    if count > len(known):
        raise SearchInputError(
            _("Too many labels: there are only %(count)d to choose from (%(names)s), each at most once.")
            % {"count": len(known), "names": _known_names()}
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
    classes = served_classes()
    limit = len(classes)
    names: list[str] = []
    for value in values:
        names += [part.strip() for part in str(value).split(",", limit) if part.strip()]
        check_label_count(len(names))
    names = stored_labels(names, classes)  # "자동차" names the stored label "car"
    unknown = sorted(set(names) - set(classes))
    if unknown:
        shown = ", ".join(name if len(name) <= 40 else name[:40] + "..." for name in unknown)
        raise SearchInputError(
            _("Unknown label(s): %(unknown)s. Known labels: %(names)s.") % {"unknown": shown, "names": _known_names()}
        )
    return list(dict.fromkeys(names)) or None


def validate_min_score(min_score: float | None) -> float | None:
    if min_score is not None and not -1.0 <= min_score <= 1.0:
        raise SearchInputError(_("min_score must be between -1 and 1 (cosine similarity)."))
    return min_score


# "x1,y1,x2,y2": four numbers in pixels take ~30 characters; more is not a box.
BOX_MAX_CHARS = 100


def check_box_text(raw: str) -> None:
    """Refuse a box's text by its length, before it is split: a 1 MB ``box=`` would be 250,000 numbers."""
    if len(raw) > BOX_MAX_CHARS:
        raise SearchInputError(
            _("box is %(length)s characters long; four numbers x1,y1,x2,y2 take at most %(max)d.")
            % {"length": f"{len(raw):,}", "max": BOX_MAX_CHARS}
        )


def check_upload_size(size: int) -> None:
    if size > settings.MAX_UPLOAD_BYTES:
        raise UploadTooLarge(
            _("The upload is %(size)s bytes; the limit is %(limit)s bytes (MAX_UPLOAD_BYTES).")
            % {"size": f"{size:,}", "limit": f"{settings.MAX_UPLOAD_BYTES:,}"}
        )


def read_upload(upload) -> bytes:
    """An uploaded file's bytes, refused by its declared size before reading it into memory."""
    if upload is None:
        raise SearchInputError(_("Choose a photo to search with."))
    check_upload_size(upload.size)
    return upload.read()


def validate_text(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise SearchInputError(_("Type a few words to search for."))
    query = query.strip()
    if len(query) > settings.SEARCH_MAX_QUERY_CHARS:
        raise SearchInputError(
            _("The query is %(length)d characters long; the limit is %(max)d.")
            % {"length": len(query), "max": settings.SEARCH_MAX_QUERY_CHARS}
        )
    return query


def _known_names() -> str:
    """The classes as the reader may name them: the stored label, and its name in their language when it differs."""
    shown = []
    for label in served_classes():
        name = display_name(label)
        shown.append(label if name == label else f"{name} ({label})")
    return ", ".join(shown)
