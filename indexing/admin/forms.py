"""The admin's forms: photos uploaded into a dataset are checked before anything is stored."""

from __future__ import annotations

from django import forms
from django.conf import settings

from indexing.models import Dataset
from indexing.vision.errors import ImageError
from indexing.vision.formats import identify_raster


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several photos at once, each checked like ingest_image checks it, with a per-file error.

    Cleans to a list of (file name, bytes): the data is read once, here.
    """

    widget = MultipleFileInput

    def clean(self, data, initial=None) -> list[tuple[str, bytes]]:
        files = data if isinstance(data, list | tuple) else [data]
        photos, errors = [], []
        for upload in (super(MultipleImageField, self).clean(f, initial) for f in files if f):
            try:
                photos.append((upload.name, read_photo(upload)))
            except ImageError as exc:
                errors.append(forms.ValidationError(str(exc), code="invalid_image"))
        if errors:
            raise forms.ValidationError(errors)
        return photos


def read_photo(upload) -> bytes:
    """The bytes of an uploaded photo; ImageError, naming the file, unless it is one we store."""
    if upload.size > settings.MAX_UPLOAD_BYTES:
        raise ImageError(f"{upload.name} is {upload.size:,} bytes, over the limit of {settings.MAX_UPLOAD_BYTES:,}.")
    upload.seek(0)
    data = upload.read()
    identify_raster(data, name=upload.name)
    return data


class DatasetForm(forms.ModelForm):
    upload_images = MultipleImageField(
        required=False, help_text="Photos to add to this dataset; they are indexed after saving."
    )
    upload_split = forms.CharField(required=False, max_length=20, help_text="Split for the uploaded photos.")

    class Meta:
        model = Dataset
        fields = ["name", "version", "source", "split_names", "root_path", "notes"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("upload_images") and self.instance.status == Dataset.Status.DELETING:
            self.add_error("upload_images", "This dataset is being deleted: photos cannot be added to it.")
        return cleaned
