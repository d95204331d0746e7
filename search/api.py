"""The DRF API: thin views over search.services and indexing.services."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView, exception_handler

from indexing import services as indexing_services
from indexing.models import Crop, Dataset, IndexingJob
from search import serializers as s
from search import services
from search.services import CropNotFound, SearchInputError


class SearchPermission(permissions.BasePermission):
    """Open to read unless SEARCH_REQUIRE_AUTH is on."""

    def has_permission(self, request, view) -> bool:
        return not settings.SEARCH_REQUIRE_AUTH or bool(request.user and request.user.is_authenticated)


class SearchView(APIView):
    permission_classes = [SearchPermission]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "search"


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
    response = exception_handler(exc, context)
    if response is not None:
        detail = exc.detail if isinstance(exc, APIException) else response.data
        response.data = {"error": first_message(detail), "details": detail}
    return response


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def text_response(data: dict) -> Response:
    results = services.search_text(data["query"], data.get("k"), data.get("labels"), data.get("min_score"))
    body = {"query": data["query"].strip(), "count": len(results), "results": results}
    return Response(s.SearchTextResponse(body).data)


class SearchTextView(SearchView):
    parser_classes = [JSONParser, FormParser]

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
            OpenApiParameter("min_score", float),
        ],
        responses={200: s.SearchTextResponse, 400: s.ErrorResponse},
    )
    def get(self, request: Request) -> Response:
        data = {key: request.query_params.get(key) for key in ("query", "k", "min_score")}
        data = {key: value for key, value in data.items() if value is not None}
        if "labels" in request.query_params:
            data["labels"] = request.query_params.getlist("labels")
        return text_response(validated(s.SearchTextRequest, data))


class SearchImageView(SearchView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.SearchImageRequest},
        responses={200: s.SearchImageResponse, 400: s.ErrorResponse, 413: s.ErrorResponse},
    )
    def post(self, request: Request) -> Response:
        if "image" in request.FILES:
            services.check_upload_size(request.FILES["image"].size)
        data = request.data.copy()
        if hasattr(data, "getlist") and "labels" in data:
            data.setlist("labels", [v for value in data.getlist("labels") for v in value.split(",") if v])
        params = validated(s.SearchImageRequest, data)
        found = services.search_image(
            services.read_upload(params["image"]), params.get("k"), params.get("labels"), params.get("min_score")
        )
        return Response(s.SearchImageResponse(found).data)


class CropView(SearchView):
    @extend_schema(responses={200: s.SearchResultSerializer, 404: s.ErrorResponse})
    def get(self, request: Request, crop_id: int) -> Response:
        return Response(s.SearchResultSerializer(services.get_crop(crop_id)).data)

    @extend_schema(request=s.CropActiveRequest, responses={200: s.SearchResultSerializer, 404: s.ErrorResponse})
    def patch(self, request: Request, crop_id: int) -> Response:
        """Curation: deactivate or reactivate a crop (staff only)."""
        data = validated(s.CropActiveRequest, request.data)
        if not indexing_services.set_crops_active(Crop.objects.filter(pk=crop_id), data["is_active"]):
            raise CropNotFound(f"There is no crop {crop_id}.")
        crop = Crop.objects.select_related("image__dataset").get(pk=crop_id)
        return Response(s.SearchResultSerializer(services.to_result(crop, 1.0)).data)

    def get_permissions(self):
        if self.request.method in permissions.SAFE_METHODS:
            return super().get_permissions()
        return [permissions.IsAdminUser()]


class SimilarView(SearchView):
    @extend_schema(parameters=[OpenApiParameter("k", int)], responses={200: s.SimilarResponse, 404: s.ErrorResponse})
    def get(self, request: Request, crop_id: int) -> Response:
        k = request.query_params.get("k")
        try:
            k = int(k) if k is not None else None
        except ValueError:
            raise ValidationError({"k": "must be a whole number"}) from None
        results = services.similar_to_crop(crop_id, k)
        return Response(s.SimilarResponse({"crop_id": crop_id, "count": len(results), "results": results}).data)


class DatasetListView(SearchView):
    @extend_schema(responses={200: s.DatasetSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(s.DatasetSerializer(indexing_services.datasets_with_counts(), many=True).data)


class DatasetIndexView(APIView):
    """Queue indexing of a dataset's pending images (staff only)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=None, responses={202: s.IndexingJobSerializer})
    def post(self, request: Request, dataset_id: int) -> Response:
        from indexing.tasks import enqueue_dataset_indexing

        dataset = get_object_or_404(Dataset, pk=dataset_id)
        job = enqueue_dataset_indexing(dataset)
        job.refresh_from_db()
        return Response(s.IndexingJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobView(SearchView):
    @extend_schema(responses={200: s.IndexingJobSerializer, 404: s.ErrorResponse})
    def get(self, request: Request, job_id: int) -> Response:
        return Response(s.IndexingJobSerializer(get_object_or_404(IndexingJob, pk=job_id)).data)
