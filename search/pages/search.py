"""Server-rendered pages: home, results, crop detail, datasets."""

from __future__ import annotations

import base64
import contextlib
import io

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from PIL import Image

from indexing import served_models
from indexing.catalog import deletion, selectors
from indexing.descriptions import selectors as description_selectors
from indexing.model_changes import lifecycle as model_changes
from indexing.models import DELETE_DATASET_PERMISSION, INDEX_PERMISSION, Dataset
from indexing.pipeline import recovery
from indexing.queue import IndexingUnavailable
from search import progress
from search.pages import collection
from search.pages.forms import SearchForm
from search.query import collapse, explain, filters, services, validation
from search.query.errors import CropNotFound, SearchInputError
from search.query.image import photo_queries
from search.query.same_object import same_object_groups
from search.throttle import throttle_page
from visualsearch.access import sees_details

PREVIEW_MAX_SIDE = 1024
TRUNCATED_NOTE = gettext_lazy(
    "The search stopped before it found a full page (it reached its limit of candidates, or all the index "
    "reaches): more may match. Narrow the filters or use an earlier page."
)


def form_context(request: HttpRequest, source: QueryDict | None = None, **extra) -> dict:
    if source is None:
        source = request.POST if request.method == "POST" else request.GET
    if "has_duplicates" not in extra:  # the "show every copy" switch is offered only where groups exist
        extra["has_duplicates"] = collapse.fold_by_default()
    return {
        "classes": served_models.served_classes(),
        "selected_labels": source.getlist("labels"),
        "k": source.get("k") or settings.SEARCH_DEFAULT_K,
        "max_k": settings.SEARCH_MAX_K,
        "query": source.get("q", ""),
        "mode": source.get("mode", "image"),
        "show_copies": bool(source.get("show_copies")),
        "min_score": source.get("min_score", ""),
        "group": bool(source.get("group")),
        "find": source.get("find") or "objects",
        "selected_datasets": source.getlist("datasets"),
        "selected_splits": source.getlist("splits"),
        "truncated_note": TRUNCATED_NOTE,
        **filters.filter_choices(),
        **extra,
    }


def home(request: HttpRequest) -> HttpResponse:
    # What the collection holds and a few queries to try: one aggregate query, cached (search.pages.collection).
    return render(request, "search/home.html", form_context(request, collection=collection.summary()))


def error_page(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """The search form with ``message``, for a request refused before its form was read."""
    # An empty form: the request's own fields may be what was refused (too many of them).
    context = form_context(request, source=QueryDict(), error=message, has_duplicates=False)
    return render(request, "search/home.html", context, status=status)


@require_http_methods(["GET", "POST"])
@throttle_page
def results(request: HttpRequest) -> HttpResponse:
    """Text search by GET (?q=...), image search by POST (multipart ``image``; ``box``: a region of it)."""
    form = SearchForm(request.POST if request.method == "POST" else request.GET)
    try:
        fields = form.parsed()
        narrowing = {key: fields[key] for key in ("k", "labels", "min_score", "datasets", "splits")}
        # The pages fold copies of a photo into one result unless asked to show every copy.
        fields["has_duplicates"] = collapse.fold_by_default()
        fields["collapse"] = fields["has_duplicates"] and not fields["show_copies"]
        if request.method == "POST":
            upload = request.FILES.get("image")
            data = validation.read_upload(upload)
            context = photo_context(request, data, upload, fields, narrowing)
        else:
            page = services.search_text_page(
                fields["q"], offset=fields["offset"], collapse_duplicates=fields["collapse"], **narrowing
            )
            context = form_context(
                request,
                text_results=page.results,
                mode="text",
                has_duplicates=fields["has_duplicates"],
                **pager(request, page),
            )
    except SearchInputError as exc:
        context = form_context(request, error=str(exc))
        return render(request, "search/home.html", context, status=exc.status)
    if context["group"]:
        for obj in context["image_search"].objects if "image_search" in context else []:
            obj.groups = group_by_photo(obj.results)
        context["text_groups"] = group_by_photo(context.get("text_results") or [])
    return render(request, "search/results.html", context)


def group_by_photo(results: list) -> list[dict]:
    """Results grouped by their source photo, photos in the order of their best result."""
    groups: dict[int, dict] = {}
    for result in results:
        group = groups.setdefault(
            result.image_id,
            {"image_id": result.image_id, "image_url": result.image_url, "dataset": result.dataset, "results": []},
        )
        group["results"].append(result)
    return list(groups.values())


def photo_context(request: HttpRequest, data: bytes, upload, fields: dict, narrowing: dict) -> dict:
    """An image search (objects, a region, or photos holding the objects), with the photo kept in the page."""
    original = original_data_url(data)
    if fields["find"] in ("photos_all", "photos_any"):
        found = photo_queries.search_photos(
            data, match=fields["find"].removeprefix("photos_"), preview_side=PREVIEW_MAX_SIDE, **narrowing
        )
        preview = preview_data_url(found.preview)
        return form_context(
            request, photo_search=found, preview=preview, mode="image", has_duplicates=fields["has_duplicates"]
        )
    found = services.search_image(
        data,
        box=fields["box"],
        offset=fields["offset"],
        preview_side=PREVIEW_MAX_SIDE,
        collapse_duplicates=fields["collapse"],
        **narrowing,
    )
    next_offset = min((o.next_offset for o in found.objects if o.next_offset is not None), default=None)
    return form_context(
        request,
        image_search=found,
        preview=preview_data_url(found.preview),
        original=original,
        original_name=getattr(upload, "name", "query"),
        box=fields["box"] or "",
        offset=found.offset,
        next_offset=next_offset,
        previous_offset=max(found.offset - fields["k"], 0) if found.offset else None,
        mode="image",
        has_duplicates=fields["has_duplicates"],
    )


def pager(request: HttpRequest, page) -> dict:
    """Links to the previous and next pages of a text search (the same query string, another offset)."""

    def link(offset: int) -> str:
        query = request.GET.copy()
        query["offset"] = str(offset)
        return "?" + query.urlencode()

    k = len(page.results) if page.next_offset is None else page.next_offset - page.offset
    return {
        "offset": page.offset,
        "truncated": page.truncated,
        "next_url": link(page.next_offset) if page.next_offset is not None else "",
        "previous_url": link(max(page.offset - max(k, 1), 0)) if page.offset else "",
    }


def preview_data_url(image: Image.Image) -> str:
    """The query photo (decoded once, by the search), inline: query photos are never stored."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def original_data_url(data: bytes) -> str:
    """The upload itself, inline, so a region or another page can be searched without storing it."""
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


@throttle_page  # runs a "more like this" search
def crop_detail(request: HttpRequest, crop_id: int) -> HttpResponse:
    try:
        crop = services.get_crop(crop_id)
        similar = services.similar_to_crop(crop_id, settings.SEARCH_DEFAULT_K)
    except CropNotFound as exc:
        raise Http404(str(exc)) from exc
    image = selectors.source_image(crop.image_id)
    same_object = same_object_groups(crop_id) or []
    context = {"crop": crop, "image": image, "similar": similar, "same_object": same_object}
    context["descriptions"] = description_selectors.descriptions_of(crop_id)
    # Reached from a text search: why it matched, from the template (never a model). A bad ?q: no line.
    with contextlib.suppress(SearchInputError):
        context["why"] = explain.explain(crop_id, request.GET["q"]) if request.GET.get("q") else None
    return render(request, "search/crop.html", context)


@throttle_page  # each hit counts a page of datasets: throttled like a search
def datasets(request: HttpRequest) -> HttpResponse:
    recovery.mark_stale_jobs_if_due()  # a dead worker's job reads "stale" (and can be resumed), not "running"
    page = selectors.datasets_page(page=request.GET.get("page"))
    for dataset in page.object_list:
        for job in dataset.recent_jobs:
            job.eta = progress.eta_text(progress.eta_seconds(job))
            job.duration = progress.duration_text(progress.duration_seconds(job))
    context = {
        "datasets": page.object_list,
        "page": page,
        "show_details": sees_details(request.user),
        # Re-embeds and redetects: their progress, and which models the collection is made with.
        "model_changes": model_changes.recent_changes(),
        "job_words": progress.script_words(),  # the polling script's words, in the reader's language
    }
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
        messages.success(
            request,
            (_("Deleted %(dataset)s.") if done else _("Deleting %(dataset)s: progress below.")) % {"dataset": dataset},
        )
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
            request,
            _("Job %(job)d queued over the failed photos of %(dataset)s.") % {"job": job.pk, "dataset": dataset}
            if job
            else _("No failed photos."),
        )
    return redirect("search:datasets")
