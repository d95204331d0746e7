"""What a search can refuse: each error carries the HTTP status it answers with.

Kept apart from search.query.services so the modules that check a query's parts (photos,
upload limits) raise the same errors the services do without importing them.
"""

from __future__ import annotations


class SearchInputError(ValueError):
    """The query is unusable; the message says why, in words for a person."""

    status = 400


class UploadTooLarge(SearchInputError):
    status = 413


class PhotoNotSearchable(SearchInputError):
    """The photo decoded, but a model failed on it: this photo's problem, not the server's."""

    status = 422


class CropNotFound(LookupError):
    pass
