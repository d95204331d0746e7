"""Request and response shapes of the search API (also the OpenAPI schema)."""

from __future__ import annotations

from dataclasses import asdict

from rest_framework import serializers

from indexing import duplicate_ingest
from indexing.models import Dataset, IndexingJob
from search.validation import check_label_count
from visualsearch.access import sees_details

# What a non-staff user reads instead of a failed job's exception text.
JOB_ERROR_FOR_PUBLIC = "Indexing failed; an administrator can see why in the admin."


def asked_by_staff(serializer: serializers.Serializer) -> bool:
    request = serializer.context.get("request")
    return request is not None and sees_details(request.user)


class LabelsField(serializers.ListField):
    """Labels as a list, repeated form fields or comma-separated text.

    The count is checked before DRF validates each item: a list of 600,000 labels is
    refused at once (search.validation splits, de-duplicates and checks the names).
    """

    child = serializers.CharField(allow_blank=True)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [data]
        if isinstance(data, list | tuple):
            check_label_count(len(data))
        return super().to_internal_value(data)


class SearchTextRequest(serializers.Serializer):
    query = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="Words to search for.")
    k = serializers.IntegerField(required=False, help_text="Number of results (1..SEARCH_MAX_K).")
    labels = LabelsField(required=False, help_text="Only these labels (a list, or comma-separated).")
    min_score = serializers.FloatField(required=False, help_text="Drop results below this cosine similarity.")
    collapse_duplicates = serializers.BooleanField(
        required=False, default=False, help_text="One result per group of duplicate photos."
    )


class SearchImageRequest(serializers.Serializer):
    image = serializers.FileField(help_text="The query photo (JPEG, PNG, WebP...), up to MAX_UPLOAD_BYTES.")
    k = serializers.IntegerField(required=False)
    labels = LabelsField(required=False, help_text="Only these labels (repeated, or comma-separated).")
    min_score = serializers.FloatField(required=False)
    collapse_duplicates = serializers.BooleanField(
        required=False, default=False, help_text="One result per group of duplicate photos."
    )


class SimilarRequest(serializers.Serializer):
    """The query string of "more like this"."""

    k = serializers.IntegerField(required=False, help_text="Number of results (1..SEARCH_MAX_K).")


class SearchResultSerializer(serializers.Serializer):
    crop_id = serializers.IntegerField()
    label = serializers.CharField()
    confidence = serializers.FloatField(help_text="Detection confidence of the crop.")
    score = serializers.FloatField(help_text="Cosine similarity to the query.")
    crop_url = serializers.CharField()
    image_url = serializers.CharField()
    image_id = serializers.IntegerField()
    box = serializers.ListField(child=serializers.FloatField(), help_text="x1, y1, x2, y2 in source pixels.")
    dataset = serializers.CharField()
    split = serializers.CharField()

    def to_representation(self, instance):
        return super().to_representation(asdict(instance))


class ResultListResponse(serializers.Serializer):
    """A ranked list of crops, best first."""

    count = serializers.IntegerField()
    results = SearchResultSerializer(many=True)


class SearchTextResponse(ResultListResponse):
    query = serializers.CharField()


class QueryObjectSerializer(serializers.Serializer):
    label = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    box = serializers.ListField(child=serializers.FloatField())
    results = SearchResultSerializer(many=True)


class SearchImageResponse(serializers.Serializer):
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    whole_image = serializers.BooleanField(help_text="True when no object was found and the whole photo was searched.")
    message = serializers.CharField()
    objects_left_out = serializers.IntegerField(
        help_text="Objects found but not searched: only the SEARCH_MAX_QUERY_OBJECTS most confident are."
    )
    objects = QueryObjectSerializer(many=True)


class SimilarResponse(ResultListResponse):
    crop_id = serializers.IntegerField()


class IndexingJobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)
    duplicates = serializers.SerializerMethodField(
        help_text="Photos of the job skipped as duplicates (DEDUP_ON_INGEST=skip) and photos now in a group."
    )

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
            "created",
            "started",
            "finished",
            "heartbeat",
            "error",
        ]

    def get_duplicates(self, instance) -> dict[str, int]:
        return duplicate_ingest.job_counts(instance)

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


class CropActiveRequest(serializers.Serializer):
    is_active = serializers.BooleanField()


class IndexRebuildResponse(serializers.Serializer):
    queued = serializers.CharField()


class ErrorResponse(serializers.Serializer):
    error = serializers.CharField()
    details = serializers.JSONField(required=False)
