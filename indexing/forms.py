"""The admin's forms: photos uploaded into a dataset, or replacing one, are checked before anything is stored."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from indexing.models import Dataset, SourceImage
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


class SourceImageForm(forms.ModelForm):
    """A photo replaced on its own admin page is checked like an uploaded one."""

    class Meta:
        model = SourceImage
        fields = "__all__"  # noqa: DJ007 - the admin decides which fields the page shows

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if isinstance(upload, UploadedFile):  # a new file, not the one already stored
            try:
                read_photo(upload)
            except ImageError as exc:
                raise forms.ValidationError(str(exc), code="invalid_image") from exc
            upload.seek(0)
        return upload
