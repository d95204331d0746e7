"""The DRF API: thin views over search.query.services and indexing's jobs, curation and selectors."""

from __future__ import annotations

import io

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from indexing.catalog import curation
from indexing.models import CURATE_CROPS_PERMISSION, DELETE_DATASET_PERMISSION, INDEX_PERMISSION
from indexing.queue import IndexingUnavailable
from search.api import serializers as s
from search.query import photo_queries, services, validation
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


def filters_of(data: dict) -> dict:
    """The filter fields a search service takes as keywords."""
    return {key: data.get(key) for key in ("datasets", "splits")}


def text_response(data: dict) -> Response:
    page = services.search_text_page(
        data["query"],
        data.get("k"),
        data.get("labels"),
        data.get("min_score"),
        collapse_duplicates=data.get("collapse_duplicates", False),
        offset=data.get("offset"),
        **filters_of(data),
    )
    body = {
        "query": data["query"].strip(),
        "count": len(page.results),
        "results": page.results,
        "offset": page.offset,
        "next_offset": page.next_offset,
        "truncated": page.truncated,
    }
    return Response(s.SearchTextResponse(body).data)


class SearchTextView(SearchView):
    parser_classes = [BoundedJSONParser, BoundedFormParser]

    @extend_schema(request=s.SearchTextRequest, responses={200: s.SearchTextResponse, 400: s.ErrorResponse})
    def post(self, request: Request) -> Response:
        return text_response(validated(s.SearchTextRequest, request.data))


# Its inherited POST would share SearchTextView's operationId, which `check` reports.
@extend_schema_view(post=extend_schema(operation_id="search_text_compat_create"))
class SearchTextCompatView(SearchTextView):
    """``/api/search_text``: the seed's name for text search, by GET or POST."""

    @extend_schema(
        parameters=[
            OpenApiParameter("query", str, required=True),
            OpenApiParameter("k", int),
            OpenApiParameter("labels", str, many=True),
            OpenApiParameter("datasets", int, many=True),
            OpenApiParameter("splits", str, many=True),
            OpenApiParameter("min_score", float),
            OpenApiParameter("offset", int),
        ],
        responses={200: s.SearchTextResponse, 400: s.ErrorResponse},
    )
    def get(self, request: Request) -> Response:
        data = {key: request.query_params.get(key) for key in ("query", "k", "min_score", "offset")}
        data = {key: value for key, value in data.items() if value is not None}
        for key in ("labels", "datasets", "splits"):
            if key in request.query_params:
                data[key] = request.query_params.getlist(key)
        if "collapse_duplicates" in request.query_params:
            data["collapse_duplicates"] = request.query_params["collapse_duplicates"]
        return text_response(validated(s.SearchTextRequest, data))


class SearchImageView(SearchView):
    parser_classes = [MultiPartParser, BoundedFormParser]

    @extend_schema(
        request={"multipart/form-data": s.SearchImageRequest},
        responses={200: s.SearchImageResponse, 400: s.ErrorResponse, 413: s.ErrorResponse, 422: s.ErrorResponse},
    )
    def post(self, request: Request) -> Response:
        if "image" in request.FILES:
            validation.check_upload_size(request.FILES["image"].size)
        # Read as is, never copied: copying request.data deep-copies the upload, which fails
        # for one spooled to a temporary file (over FILE_UPLOAD_MAX_MEMORY_SIZE). Labels
        # ("car,person" or repeated fields) are split and counted by the service.
        params = validated(s.SearchImageRequest, request.data)
        found = services.search_image(
            validation.read_upload(params["image"]),
            params.get("k"),
            params.get("labels"),
            params.get("min_score"),
            collapse_duplicates=params.get("collapse_duplicates", False),
            box=params.get("box"),
            offset=params.get("offset"),
            **filters_of(params),
        )
        return Response(s.SearchImageResponse(found).data)


class SearchPhotosView(SearchView):
    """Photos holding objects like each of the query photo's objects (search.query.photo_queries)."""

    parser_classes = [MultiPartParser, BoundedFormParser]

    @extend_schema(
        request={"multipart/form-data": s.SearchPhotosRequest},
        responses={200: s.SearchPhotosResponse, 400: s.ErrorResponse, 413: s.ErrorResponse, 422: s.ErrorResponse},
    )
    def post(self, request: Request) -> Response:
        if "image" in request.FILES:
            validation.check_upload_size(request.FILES["image"].size)
        params = validated(s.SearchPhotosRequest, request.data)
        found = photo_queries.search_photos(
            validation.read_upload(params["image"]),
            k=params.get("k"),
            match=params.get("match"),
            labels=params.get("labels"),
            min_score=params.get("min_score"),
            **filters_of(params),
        )
        body = {**vars(found), "count": len(found.photos)}
        return Response(s.SearchPhotosResponse(body).data)


class CropView(SearchView):
    @extend_schema(responses={200: s.SearchResultSerializer, 404: s.ErrorResponse})
    def get(self, request: Request, crop_id: int) -> Response:
        return Response(s.SearchResultSerializer(services.get_crop(crop_id)).data)

    @extend_schema(request=s.CropActiveRequest, responses={200: s.SearchResultSerializer, 404: s.ErrorResponse})
    def patch(self, request: Request, crop_id: int) -> Response:
        """Curation: deactivate or reactivate a crop (indexing.change_crop)."""
        data = validated(s.CropActiveRequest, request.data)
        crop = curation.set_crop_active(crop_id=crop_id, active=data["is_active"])
        if crop is None:
            raise CropNotFound(f"There is no crop {crop_id}.")
        return Response(s.SearchResultSerializer(services.to_result(crop, 1.0)).data)

    def get_permissions(self):
        if self.request.method in permissions.SAFE_METHODS:
            return super().get_permissions()
        return [CanCurateCrops()]


class SimilarView(SearchView):
    @extend_schema(parameters=[s.SimilarRequest], responses={200: s.SimilarResponse, 404: s.ErrorResponse})
    def get(self, request: Request, crop_id: int) -> Response:
        params = validated(s.SimilarRequest, request.query_params)
        results = services.similar_to_crop(crop_id, params.get("k"))
        return Response(s.SimilarResponse({"crop_id": crop_id, "count": len(results), "results": results}).data)
