"""Server-rendered pages: home, results, crop detail, datasets."""

from __future__ import annotations

import base64
import io

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from PIL import Image

from indexing import deletion, duplicate_selectors, recovery, selectors
from indexing.jobs import IndexingUnavailable
from indexing.models import DELETE_DATASET_PERMISSION, INDEX_PERMISSION, Dataset
from search import services
from search.forms import SearchForm
from search.services import CropNotFound, SearchInputError
from search.throttle import throttle_page
from visualsearch.access import sees_details

PREVIEW_MAX_SIDE = 1024


def form_context(request: HttpRequest, source: QueryDict | None = None, **extra) -> dict:
    if source is None:
        source = request.POST if request.method == "POST" else request.GET
    return {
        "classes": settings.DETECTOR_CLASSES,
        "selected_labels": source.getlist("labels"),
        "k": source.get("k") or settings.SEARCH_DEFAULT_K,
        "max_k": settings.SEARCH_MAX_K,
        "query": source.get("q", ""),
        "mode": source.get("mode", "image"),
        "collapse": bool(source.get("collapse")),
        **extra,
    }


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "search/home.html", form_context(request))


def error_page(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """The search form with ``message``, for a request refused before its form was read."""
    # An empty form: the request's own fields may be what was refused (too many of them).
    return render(request, "search/home.html", form_context(request, source=QueryDict(), error=message), status=status)


@require_http_methods(["GET", "POST"])
@throttle_page
def results(request: HttpRequest) -> HttpResponse:
    """Text search by GET (?q=...), image search by POST (multipart ``image``)."""
    form = SearchForm(request.POST if request.method == "POST" else request.GET)
    try:
        fields = form.parsed()
        k, labels = fields["k"], fields["labels"]
        if request.method == "POST":
            data = services.read_upload(request.FILES.get("image"))
            found = services.search_image(
                data, k, labels, preview_side=PREVIEW_MAX_SIDE, collapse_duplicates=fields["collapse"]
            )
            context = form_context(request, image_search=found, preview=preview_data_url(found.preview), mode="image")
        else:
            found_text = services.search_text(fields["q"], k, labels, collapse_duplicates=fields["collapse"])
            context = form_context(request, text_results=found_text, mode="text")
    except SearchInputError as exc:
        context = form_context(request, error=str(exc))
        return render(request, "search/home.html", context, status=exc.status)
    return render(request, "search/results.html", context)


def preview_data_url(image: Image.Image) -> str:
    """The query photo (decoded once, by the search), inline: query photos are never stored."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


@throttle_page  # runs a "more like this" search
def crop_detail(request: HttpRequest, crop_id: int) -> HttpResponse:
    try:
        crop = services.get_crop(crop_id)
        similar = services.similar_to_crop(crop_id, settings.SEARCH_DEFAULT_K)
    except CropNotFound as exc:
        raise Http404(str(exc)) from exc
    image = selectors.source_image(crop.image_id)
    same_object = duplicate_selectors.same_object_groups(crop_id) or []
    context = {"crop": crop, "image": image, "similar": similar, "same_object": same_object}
    return render(request, "search/crop.html", context)


def datasets(request: HttpRequest) -> HttpResponse:
    recovery.mark_stale_jobs()  # a dead worker's job reads "stale" (and can be resumed), not "running"
    context = {"datasets": selectors.datasets_with_recent_jobs(), "show_details": sees_details(request.user)}
    return render(request, "search/datasets.html", context)


# The datasets page's staff buttons: the same permissions as the admin and the API.


@require_POST
@permission_required(DELETE_DATASET_PERMISSION, raise_exception=True)
def delete_dataset(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    try:
        done = deletion.request_deletion(dataset=dataset)
    except IndexingUnavailable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Deleted {dataset}." if done else f"Deleting {dataset}: progress below.")
    return redirect("search:datasets")


@require_POST
@permission_required(INDEX_PERMISSION, raise_exception=True)
def retry_failed(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    try:
        job = recovery.retry_failed(dataset=dataset)
    except IndexingUnavailable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Job {job.pk} queued over the failed photos of {dataset}." if job else "No failed photos."
        )
    return redirect("search:datasets")
