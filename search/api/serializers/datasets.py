"""Shapes of the datasets, jobs and index endpoints."""

from __future__ import annotations

from rest_framework import serializers

from indexing.duplicates import hooks as duplicate_ingest
from indexing.models import Dataset, IndexingJob
from search import progress
from search.api.serializers.common import asked_by_staff

# What a non-staff user reads instead of a failed job's exception text.
JOB_ERROR_FOR_PUBLIC = "Indexing failed; an administrator can see why in the admin."


class IndexingJobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)
    duplicates = serializers.SerializerMethodField(
        help_text="Photos of the job skipped as duplicates (DEDUP_ON_INGEST=skip) and photos now in a group."
    )
    eta_seconds = serializers.SerializerMethodField(help_text="Seconds left at the pace so far; null until known.")

    class Meta:
        model = IndexingJob
        fields = [
            "id",
            "dataset",
            "split",
            "status",
            "total_images",
            "processed_images",
            "failed_images",
            "total_crops",
            "progress",
            "duplicates",
            "eta_seconds",
            "created",
            "started",
            "finished",
            "heartbeat",
            "error",
        ]

    def get_duplicates(self, instance) -> dict[str, int]:
        return duplicate_ingest.job_counts(instance)

    def get_eta_seconds(self, job: IndexingJob) -> float | None:
        return progress.eta_seconds(job)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Exception texts name server paths and internals: staff only.
        if data["error"] and not asked_by_staff(self):
            data["error"] = JOB_ERROR_FOR_PUBLIC
        return data


class DatasetSerializer(serializers.ModelSerializer):
    images = serializers.IntegerField(source="image_count", read_only=True)
    images_done = serializers.IntegerField(read_only=True)
    images_failed = serializers.IntegerField(read_only=True)
    crops = serializers.IntegerField(source="crop_count", read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "version",
            "source",
            "split_names",
            "created",
            "notes",
            "status",
            "images",
            "images_done",
            "images_failed",
            "crops",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Where a dataset came from is often a path on the server: staff only.
        if not asked_by_staff(self):
            data.pop("source")
        return data


class DeletionResponse(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["deleted", "deleting"])


class IndexRebuildResponse(serializers.Serializer):
    queued = serializers.CharField()
    id = serializers.IntegerField(help_text="The queued build; a second request while it waits gets the same id.")
    coalesced = serializers.BooleanField(help_text="True when an earlier request's build was still waiting.")


class IndexRecallResponse(serializers.Serializer):
    """indexing.ann.recall.records.summary: the served build's own measurement; null fields when there is none."""

    build = serializers.IntegerField(allow_null=True)
    kind = serializers.CharField(required=False)
    params = serializers.JSONField(required=False)
    size = serializers.IntegerField(required=False)
    recall_at_10 = serializers.FloatField(required=False, allow_null=True)
    recall_queries = serializers.IntegerField(required=False)
    latency_p50_ms = serializers.FloatField(required=False, allow_null=True)
    latency_p95_ms = serializers.FloatField(required=False, allow_null=True)
    target = serializers.FloatField(required=False)
    reached = serializers.BooleanField(required=False, allow_null=True)
    note = serializers.CharField()
    filtered = serializers.CharField()
    tail = serializers.CharField()
