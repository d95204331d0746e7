"""Request bodies are limited before Django spools them to memory or a temporary file.

Django reads a whole multipart body (into memory, or a temporary file past
FILE_UPLOAD_MAX_MEMORY_SIZE) before any view runs, so a size checked in the view
comes after a 2 GB upload was already written to disk. Instead:

* UploadLimitMiddleware refuses, by its Content-Length and unread, a body larger than
  one photo (MAX_UPLOAD_BYTES) plus FORM_FIELDS_ALLOWANCE, or a body without a photo
  larger than DATA_UPLOAD_MAX_MEMORY_SIZE (413). It then parses the form itself, so
  every refusal while reading it (the limits below, too many fields, a malformed
  multipart body) is answered here as JSON under /api/ and as the search page
  elsewhere, instead of Django's bare 400, or a 500 from inside CsrfViewMiddleware.
* UploadLimitHandler, first in FILE_UPLOAD_HANDLERS, stops reading a file the moment
  it passes MAX_UPLOAD_BYTES, whatever the Content-Length said.
* The search endpoints take a few small fields beside their photo: a body without a
  photo (JSON, a urlencoded form) over SEARCH_MAX_BODY_BYTES is refused by its
  Content-Length, unread, and the API's parsers read at most that much (search/api/base.py);
  a multipart search whose fields beside the photo pass FORM_FIELDS_ALLOWANCE is refused
  before any view looks at them. Parsed, a body costs ~20 times its size in objects.

Staff are held to these limits too, except on the admin's dataset pages, whose upload
takes many photos in one form (each file is still held to MAX_UPLOAD_BYTES). Django
parses no body that lacks a Content-Length (a chunked upload reads as an empty form
under WSGI); under ASGI the server in front must cap bodies, as Django spools them
before any middleware runs.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils.translation import gettext as _

from search.pages.search import error_page

# Room for the multipart boundaries and part headers and the small fields beside the
# photo (k, labels, csrf token): the search forms send well under 2 KB of them.
FORM_FIELDS_ALLOWANCE = 64 * 1024

# The search endpoints, pages and API: a few small fields, and for these a photo beside them.
TEXT_SEARCH_PATHS = frozenset({"/api/search/text", "/api/search_text"})
PHOTO_SEARCH_PATHS = frozenset({"/search", "/api/search/image", "/api/search/photos"})


class UploadLimitExceeded(MultiPartParserError):
    """A file passed MAX_UPLOAD_BYTES while it was read.

    A MultiPartParserError, so Django marks the form as unreadable rather than
    parsing the (half-read) body again on the next access.
    """


def over_limit_message(size: int | None = None) -> str:
    limit = settings.MAX_UPLOAD_BYTES
    if size is None:
        return _("The upload is larger than that; the limit is %(limit)s bytes (MAX_UPLOAD_BYTES).") % {
            "limit": f"{limit:,}"
        }
    # The same entry as search.query.validation.check_upload_size's.
    return _("The upload is %(size)s bytes; the limit is %(limit)s bytes (MAX_UPLOAD_BYTES).") % {
        "size": f"{size:,}",
        "limit": f"{limit:,}",
    }


class UploadLimitHandler(FileUploadHandler):
    """Passes chunks on to the next handler until a file passes MAX_UPLOAD_BYTES."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.MAX_UPLOAD_BYTES:
            raise UploadLimitExceeded(over_limit_message())
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the memory or temporary-file handler after this one makes the file


def declared_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def is_search(request: HttpRequest) -> bool:
    return request.path in TEXT_SEARCH_PATHS or request.path in PHOTO_SEARCH_PATHS


def body_limit(request: HttpRequest) -> int:
    """The most bytes this request's body may have."""
    if request.path in TEXT_SEARCH_PATHS:
        return settings.SEARCH_MAX_BODY_BYTES  # JSON or a form, whatever it claims to be: no photo
    if request.content_type == "multipart/form-data":
        return settings.MAX_UPLOAD_BYTES + FORM_FIELDS_ALLOWANCE
    if request.path in PHOTO_SEARCH_PATHS:
        return settings.SEARCH_MAX_BODY_BYTES  # a search form without its photo
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # form fields or JSON, no photo


def exempt_from_body_limit(request: HttpRequest) -> bool:
    """Staff on the admin's dataset pages, whose upload takes many photos in one form."""
    user = getattr(request, "user", None)
    return bool(
        user is not None
        and user.is_active
        and user.is_staff
        and request.path.startswith(reverse("admin:indexing_dataset_changelist"))
    )


def form_fields_size(request: HttpRequest) -> int:
    """Characters in the parsed form's fields, names included (files not counted)."""
    return sum(len(key) + sum(len(value) for value in values) for key, values in request.POST.lists())


def body_refusal(request: HttpRequest) -> tuple[str, int] | None:
    """Why (and with which status) the request's body is refused, reading as little as possible."""
    length, limit = declared_length(request), body_limit(request)
    if length is not None and length > limit and not exempt_from_body_limit(request):
        if request.content_type == "multipart/form-data" and request.path not in TEXT_SEARCH_PATHS:
            return over_limit_message(length), 413
        return _("The request body is %(length)s bytes; the limit is %(limit)s bytes.") % {
            "length": f"{length:,}",
            "limit": f"{limit:,}",
        }, 413
    try:
        request.GET  # noqa: B018 - parsed now, so too many parameters is refused here
        if request.method == "POST":
            request.FILES  # noqa: B018 - parsed now, by the handlers above, inside this try
    except UploadLimitExceeded as exc:
        return str(exc), 413
    except RequestDataTooBig:
        return _("The form fields are over %(limit)s bytes.") % {
            "limit": f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,}"
        }, 413
    except TooManyFieldsSent:
        return _("The request has more than %(limit)s fields.") % {
            "limit": f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,}"
        }, 400
    except TooManyFilesSent:
        return _("The request has more than %(limit)s files.") % {
            "limit": f"{settings.DATA_UPLOAD_MAX_NUMBER_FILES:,}"
        }, 400
    except (MultiPartParserError, BadRequest, UnreadablePostError) as exc:
        return _("The form could not be read: %(error)s") % {"error": exc}, 400
    if request.method == "POST" and is_search(request) and form_fields_size(request) > FORM_FIELDS_ALLOWANCE:
        # Refused before a view splits a field (box, labels) into many small objects.
        return _("The search fields are over %(limit)s characters.") % {"limit": f"{FORM_FIELDS_ALLOWANCE:,}"}, 413
    return None


class UploadLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = body_refusal(request)
        if refused is None:
            return self.get_response(request)
        message, status = refused
        if request.path.startswith("/api/"):
            return JsonResponse({"error": message}, status=status)
        return error_page(request, message, status)
