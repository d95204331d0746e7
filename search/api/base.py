"""What every API view shares: permissions, bounded body parsers, the base view, errors as one JSON shape."""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework import permissions, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from indexing.models import CURATE_CROPS_PERMISSION, DELETE_DATASET_PERMISSION, INDEX_PERMISSION
from indexing.queue import IndexingUnavailable
from search.query.errors import CropNotFound, SearchInputError
from search.throttle import SearchRateThrottle
from visualsearch.access import login_required


class SearchPermission(permissions.BasePermission):
    """Open to read unless SEARCH_REQUIRE_AUTH is on (the rule pages and media follow too)."""

    def has_permission(self, request, view) -> bool:
        return not login_required(request.user)


class ModelPermission(permissions.BasePermission):
    """A user holding ``perm`` (directly, by group, or as superuser); staff status alone is not enough."""

    perm = ""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(self.perm))


class CanCurateCrops(ModelPermission):
    perm = CURATE_CROPS_PERMISSION


class CanIndexDatasets(ModelPermission):
    perm = INDEX_PERMISSION


class CanDeleteDatasets(ModelPermission):
    perm = DELETE_DATASET_PERMISSION


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


def read_bounded(stream, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``; BodyTooLarge, unparsed, as soon as there are more.

    The Content-Length was checked already (search.uploads); this holds when there was none
    to check or it was wrong, so nothing larger than the limit is ever handed to a parser.
    """
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(limit + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"The request body is over {limit:,} bytes (SEARCH_MAX_BODY_BYTES).")
    return b"".join(chunks)


class BoundedJSONParser(JSONParser):
    """JSON of at most SEARCH_MAX_BODY_BYTES (a text search's is a few hundred bytes)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = read_bounded(stream, settings.SEARCH_MAX_BODY_BYTES) if stream is not None else b""
        return super().parse(io.BytesIO(data), media_type, parser_context)


class BoundedFormParser(FormParser):
    """A urlencoded form of at most SEARCH_MAX_BODY_BYTES."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = read_bounded(stream, settings.SEARCH_MAX_BODY_BYTES) if stream is not None else b""
        return super().parse(io.BytesIO(data), media_type, parser_context)


class SearchView(APIView):
    permission_classes = [SearchPermission]
    throttle_classes = [SearchRateThrottle]


def first_message(detail) -> str:
    """The first human message in a DRF error detail (dict / list / string)."""
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        message = first_message(value)
        return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return first_message(detail[0])
    return str(detail)


def api_exception_handler(exc, context):
    """Every error as JSON ``{"error": "...", "details": ...}``; our input errors as 400/413."""
    if isinstance(exc, SearchInputError):
        return Response({"error": str(exc)}, status=exc.status)
    if isinstance(exc, CropNotFound):
        return Response({"error": str(exc)}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, IndexingUnavailable):  # no broker, no eager mode: says what to set
        return Response({"error": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response = exception_handler(exc, context)
    if response is not None:
        detail = exc.detail if isinstance(exc, APIException) else response.data
        response.data = {"error": first_message(detail), "details": detail}
    return response


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
