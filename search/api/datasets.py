"""The API's datasets, indexing jobs and search index: thin views over indexing's jobs, deletion and recovery."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from indexing.ann import served
from indexing.catalog import deletion, selectors
from indexing.catalog.guards import DatasetDeleting
from indexing.models import Dataset, IndexingJob
from indexing.pipeline import jobs, recovery
from search.api.base import CanDeleteDatasets, CanIndexDatasets, SearchView
from search.api.serializers import datasets as s
from search.api.serializers.common import ErrorResponse


def refused(exc: Exception) -> Response:
    """409: the work conflicts with the record's state (a dataset being deleted, a job alive or done)."""
    return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)


class DatasetListView(SearchView):
    @extend_schema(responses={200: s.DatasetSerializer(many=True)})
    def get(self, request: Request) -> Response:
        datasets = selectors.datasets_with_counts()
        return Response(s.DatasetSerializer(datasets, many=True, context={"request": request}).data)


class DatasetIndexView(APIView):
    """Queue indexing of a dataset's pending images (indexing.index_dataset, as the admin action)."""

    permission_classes = [CanIndexDatasets]

    @extend_schema(request=None, responses={202: s.IndexingJobSerializer, 409: ErrorResponse, 503: ErrorResponse})
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = get_object_or_404(Dataset, pk=dataset_id)
        try:
            job = jobs.enqueue_dataset_indexing(dataset)  # a job still queued for it is returned (coalesced)
        except DatasetDeleting as exc:
            return refused(exc)
        job.refresh_from_db()
        body = s.IndexingJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class IndexView(APIView):
    """The served search index: its kind, knobs, and the recall and latency it measured on its own vectors."""

    permission_classes = [CanIndexDatasets]

    @extend_schema(responses={200: s.IndexRecallResponse})
    def get(self, request: Request) -> Response:
        return Response(served.served_summary())


class IndexRebuildView(APIView):
    """Queue a full build of the search index (retrained, hidden crops dropped), as the admin action.

    While one waits for a worker, a second request gets it back (the same ``id``, ``coalesced``).
    """

    permission_classes = [CanIndexDatasets]

    @extend_schema(request=None, responses={202: s.IndexRebuildResponse, 503: ErrorResponse})
    def post(self, request: Request) -> Response:
        task, created = jobs.queue_index_update(rebuild=True)
        body = {"queued": "full index build", "id": task.pk, "coalesced": not created}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class DatasetView(APIView):
    """Delete a dataset with its photos, crops, files and index vectors (indexing.delete_dataset)."""

    permission_classes = [CanDeleteDatasets]

    @extend_schema(request=None, responses={200: s.DeletionResponse, 202: s.DeletionResponse, 503: ErrorResponse})
    def delete(self, request: Request, dataset_id: int) -> Response:
        dataset = get_object_or_404(Dataset, pk=dataset_id)
        if deletion.request_deletion(dataset=dataset):
            return Response({"id": dataset_id, "status": "deleted"})
        return Response({"id": dataset_id, "status": "deleting"}, status=status.HTTP_202_ACCEPTED)


class DatasetRetryView(APIView):
    """Queue a job over a dataset's failed photos (indexing.index_dataset); 200 with no job when none failed."""

    permission_classes = [CanIndexDatasets]

    @extend_schema(
        request=None,
        responses={200: ErrorResponse, 202: s.IndexingJobSerializer, 409: ErrorResponse, 503: ErrorResponse},
    )
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = get_object_or_404(Dataset, pk=dataset_id)
        try:
            job = recovery.retry_failed(dataset=dataset)
        except DatasetDeleting as exc:
            return refused(exc)
        if job is None:
            return Response({"error": _("No failed photos to retry.")})
        job.refresh_from_db()
        body = s.IndexingJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class JobView(SearchView):
    @extend_schema(responses={200: s.IndexingJobSerializer, 404: ErrorResponse})
    def get(self, request: Request, job_id: int) -> Response:
        recovery.mark_stale_jobs_if_due()  # a dead worker's job reads "stale", not "running"
        job = get_object_or_404(IndexingJob, pk=job_id)
        return Response(s.IndexingJobSerializer(job, context={"request": request}).data)


class JobResumeView(APIView):
    """Resume a stale or failed job: its pending photos go to the workers again (indexing.index_dataset)."""

    permission_classes = [CanIndexDatasets]

    @extend_schema(request=None, responses={202: s.IndexingJobSerializer, 409: ErrorResponse})
    def post(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(IndexingJob, pk=job_id)
        try:
            job = recovery.resume_job(job=job)  # marks silent jobs stale first
        except (recovery.NotResumable, DatasetDeleting) as exc:
            return refused(exc)
        body = s.IndexingJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)
