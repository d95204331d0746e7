"""The search page's form: parses the request's fields; the search services check their values.

Range, label, filter and box checks stay in the services (search.query.validation,
search.query.filters, search.query.image.regions, search.query.paging), so the page and the API refuse a bad
query with the same words.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from search.query.errors import SearchInputError

FIND_CHOICES = [
    ("objects", gettext_lazy("Similar objects")),
    ("photos_all", gettext_lazy("Photos holding all of these objects")),
    ("photos_any", gettext_lazy("Photos holding any of these objects")),
]


class SearchForm(forms.Form):
    q = forms.CharField(required=False, strip=False)
    k = forms.IntegerField(required=False)
    # Repeated ``labels`` fields (the filter checkboxes), as a list; unknown names are the service's to refuse.
    labels = forms.Field(required=False, widget=forms.SelectMultiple)
    # Every copy of a duplicate photo; without it the page folds each duplicate group into one result
    # (search.query.collapse, wherever groups exist).
    show_copies = forms.BooleanField(required=False)
    datasets = forms.Field(required=False, widget=forms.SelectMultiple)
    splits = forms.Field(required=False, widget=forms.SelectMultiple)
    min_score = forms.FloatField(required=False)
    offset = forms.IntegerField(required=False)
    box = forms.CharField(required=False)  # x1,y1,x2,y2 in the photo's pixels: search that region alone
    group = forms.BooleanField(required=False)  # show results grouped by their photo
    find = forms.ChoiceField(required=False, choices=FIND_CHOICES)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # In the reader's language: the form is made per request, after LocaleMiddleware chose it.
        self.fields["k"].error_messages["invalid"] = _(
            "The number of results must be a whole number from 1 to %(max)d."
        ) % {"max": settings.SEARCH_MAX_K}
        self.fields["min_score"].error_messages["invalid"] = _("The minimum score must be a number from -1 to 1.")
        self.fields["offset"].error_messages["invalid"] = _("offset must be a whole number, 0 or more.")

    def parsed(self) -> dict:
        """The fields parsed; a field that cannot be is refused like any bad query (SearchInputError, a 400)."""
        if not self.is_valid():
            raise SearchInputError(next(message for messages in self.errors.values() for message in messages))
        data = self.cleaned_data
        return {
            **data,
            "labels": data["labels"] or None,
            "datasets": data["datasets"] or None,
            "splits": data["splits"] or None,
            "box": data["box"] or None,
            "find": data["find"] or "objects",
            "k": data["k"] if data["k"] is not None else settings.SEARCH_DEFAULT_K,
        }
