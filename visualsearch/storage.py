"""Private local storage for FAISS index files: outside MEDIA_ROOT, with no URL."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property


@deconstructible(path="visualsearch.storage.IndexFileStorage")
class IndexFileStorage(FileSystemStorage):
    """Files under INDEX_ROOT, which no URL maps to: an index holds every crop's embedding.

    The folder is read per use (like MEDIA_ROOT for the default storage), so a test that
    points INDEX_ROOT elsewhere writes there.
    """

    @cached_property
    def base_location(self) -> str:
        return self._value_or_setting(self._location, settings.INDEX_ROOT)

    def _clear_cached_properties(self, setting: str, **kwargs) -> None:
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "INDEX_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)

    def url(self, name: str | None) -> str:
        raise ValueError("Index files are private: they have no URL.")
