"""The duplicates API: review groups (staff with the crop-curation permission), "the same object elsewhere".

Each view is one call into indexing.duplicates.groups (writes) or indexing.duplicates.selectors (reads).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from indexing.catalog.guards import DatasetDeleting
from indexing.duplicates import groups as duplicate_groups
from indexing.duplicates import selectors as duplicate_selectors
from indexing.duplicates.groups import DuplicateReviewError
from indexing.models import CURATE_CROPS_PERMISSION, Dataset
from search.api.base import SearchView, validated
from search.api.serializers import duplicates as ds
from search.api.serializers.common import ErrorResponse
from search.query import same_object
from search.query.errors import CropNotFound
from visualsearch.access import sees_details


class ReviewsDuplicates(permissions.BasePermission):
    """Staff only; writes (which deactivate crops) also need indexing.change_crop, as the admin's."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not sees_details(user):
            return False
        return request.method in permissions.SAFE_METHODS or user.has_perm(CURATE_CROPS_PERMISSION)


class ReviewView(APIView):
    permission_classes = [ReviewsDuplicates]


def review_error(exc: DuplicateReviewError) -> Response:
    return Response({"error": str(exc)}, status=status.HTTP_404_NOT_FOUND if "no duplicate group" in str(exc) else 400)


class GroupListView(ReviewView):
    @extend_schema(parameters=[ds.GroupListRequest], responses={200: ds.DuplicateGroupSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """One page of groups (a list, as before); the total and the neighbouring pages are in headers."""
        query = validated(ds.GroupListRequest, request.query_params)
        found = duplicate_selectors.review_page(
            None if query["status"] == "all" else query["status"],
            tier=query.get("tier"),
            dataset_id=query.get("dataset"),
            page=query["page"],
        )
        response = Response(ds.DuplicateGroupSerializer(found.groups, many=True, context={"request": request}).data)
        response["X-Total-Count"] = str(found.count)
        response["X-Page-Count"] = str(found.pages)
        links = [(found.number + 1, "next")] if found.has_next else []
        links += [(found.number - 1, "prev")] if found.has_previous else []
        if links:
            params = request.query_params.copy()
            parts = []
            for number, rel in links:
                params["page"] = str(number)
                parts.append(f'<{request.build_absolute_uri(request.path)}?{params.urlencode()}>; rel="{rel}"')
            response["Link"] = ", ".join(parts)
        return response


class GroupView(ReviewView):
    @extend_schema(responses={200: ds.DuplicateGroupSerializer, 404: ErrorResponse})
    def get(self, request: Request, group_id: int) -> Response:
        group = duplicate_selectors.group_for_review(group_id)
        if group is None:
            return Response({"error": f"There is no duplicate group {group_id}."}, status=404)
        return Response(ds.DuplicateGroupSerializer(group).data)


class KeepView(ReviewView):
    @extend_schema(request=ds.KeepRequest, responses={200: ds.DuplicateGroupSerializer, 404: ErrorResponse})
    def post(self, request: Request, group_id: int) -> Response:
        image_id = validated(ds.KeepRequest, request.data)["image_id"]
        try:
            duplicate_groups.keep_one(group_id=group_id, image_id=image_id)
        except DuplicateReviewError as exc:
            return review_error(exc)
        return Response(ds.DuplicateGroupSerializer(duplicate_selectors.group_for_review(group_id)).data)


class NotDuplicatesView(ReviewView):
    @extend_schema(request=None, responses={200: ds.CountResponse, 404: ErrorResponse})
    def post(self, request: Request, group_id: int) -> Response:
        try:
            pairs = duplicate_groups.not_duplicates(group_id=group_id)
        except DuplicateReviewError as exc:
            return review_error(exc)
        return Response({"count": pairs})


class ResolveView(ReviewView):
    @extend_schema(request=ds.ResolveRequest, responses={200: ds.CountResponse})
    def post(self, request: Request) -> Response:
        group_ids = validated(ds.ResolveRequest, request.data)["group_ids"]
        return Response({"count": duplicate_groups.resolve_groups(group_ids=group_ids)})


class RecomputeView(ReviewView):
    @extend_schema(request=None, responses={202: None, 409: ErrorResponse, 503: ErrorResponse})
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = get_object_or_404(Dataset, pk=dataset_id)
        try:
            created = duplicate_groups.queue_recompute(dataset_id=dataset.pk)
        except DatasetDeleting as exc:
            return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
        body = {"dataset": dataset.pk, "queued": True, "coalesced": not created}  # one recompute waits at a time
        return Response(body, status=status.HTTP_202_ACCEPTED)


class SameObjectView(SearchView):
    @extend_schema(responses={200: ds.SameObjectResponse, 404: ErrorResponse})
    def get(self, request: Request, crop_id: int) -> Response:
        groups = same_object.same_object_groups(crop_id)
        if groups is None:
            raise CropNotFound(f"There is no crop {crop_id}.")
        body = {"crop_id": crop_id, "groups": [ds.SameObjectSerializer(g, many=True).data for g in groups]}
        return Response(body)
