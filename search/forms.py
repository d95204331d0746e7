"""The search page's form: parses the request's fields; the search services check their values.

Range and label checks stay in the services (search.validation), so the page and the
API refuse a bad query with the same words.
"""

from __future__ import annotations

from django import forms
from django.conf import settings

from search.errors import SearchInputError


class SearchForm(forms.Form):
    q = forms.CharField(required=False, strip=False)
    k = forms.IntegerField(required=False)
    # Repeated ``labels`` fields (the filter checkboxes), as a list; unknown names are the service's to refuse.
    labels = forms.Field(required=False, widget=forms.SelectMultiple)
    # One result per group of duplicate photos (search.collapse).
    collapse = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["k"].error_messages["invalid"] = (
            f"The number of results must be a whole number from 1 to {settings.SEARCH_MAX_K}."
        )

    def parsed(self) -> dict:
        """The fields parsed; a field that cannot be is refused like any bad query (SearchInputError, a 400)."""
        if not self.is_valid():
            raise SearchInputError(next(message for messages in self.errors.values() for message in messages))
        return {**self.cleaned_data, "labels": self.cleaned_data["labels"] or None}
