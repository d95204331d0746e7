"""The search endpoints: thin views over search.query.services (text, image, photos, a crop, similar crops)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from indexing.catalog import curation
from search.api.base import BoundedFormParser, BoundedJSONParser, CanCurateCrops, SearchView, validated
from search.api.serializers import queries as s
from search.api.serializers.common import ErrorResponse
from search.query import services, validation
from search.query.errors import CropNotFound
from search.query.image import photo_queries


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

    @extend_schema(request=s.SearchTextRequest, responses={200: s.SearchTextResponse, 400: ErrorResponse})
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
        responses={200: s.SearchTextResponse, 400: ErrorResponse},
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
        responses={200: s.SearchImageResponse, 400: ErrorResponse, 413: ErrorResponse, 422: ErrorResponse},
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
            words=params.get("words"),
            offset=params.get("offset"),
            **filters_of(params),
        )
        return Response(s.SearchImageResponse(found).data)


class SearchPhotosView(SearchView):
    """Photos holding objects like each of the query photo's objects (search.query.image.photo_queries)."""

    parser_classes = [MultiPartParser, BoundedFormParser]

    @extend_schema(
        request={"multipart/form-data": s.SearchPhotosRequest},
        responses={200: s.SearchPhotosResponse, 400: ErrorResponse, 413: ErrorResponse, 422: ErrorResponse},
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
    @extend_schema(responses={200: s.SearchResultSerializer, 404: ErrorResponse})
    def get(self, request: Request, crop_id: int) -> Response:
        return Response(s.SearchResultSerializer(services.get_crop(crop_id)).data)

    @extend_schema(request=s.CropActiveRequest, responses={200: s.SearchResultSerializer, 404: ErrorResponse})
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
    @extend_schema(parameters=[s.SimilarRequest], responses={200: s.SimilarResponse, 404: ErrorResponse})
    def get(self, request: Request, crop_id: int) -> Response:
        params = validated(s.SimilarRequest, request.query_params)
        results = services.similar_to_crop(crop_id, params.get("k"))
        return Response(s.SimilarResponse({"crop_id": crop_id, "count": len(results), "results": results}).data)
