"""Request and response shapes of the search API (also the OpenAPI schema)."""

from __future__ import annotations

from dataclasses import asdict

from rest_framework import serializers

from indexing.models import Dataset, IndexingJob


class SearchTextRequest(serializers.Serializer):
    query = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="Words to search for.")
    k = serializers.IntegerField(required=False, help_text="Number of results (1..SEARCH_MAX_K).")
    labels = serializers.ListField(child=serializers.CharField(), required=False, help_text="Only these labels.")
    min_score = serializers.FloatField(required=False, help_text="Drop results below this cosine similarity.")


class SearchImageRequest(serializers.Serializer):
    image = serializers.FileField(help_text="The query photo (JPEG, PNG, WebP...).")
    k = serializers.IntegerField(required=False)
    labels = serializers.ListField(child=serializers.CharField(), required=False)
    min_score = serializers.FloatField(required=False)


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


class SearchTextResponse(serializers.Serializer):
    query = serializers.CharField()
    count = serializers.IntegerField()
    results = SearchResultSerializer(many=True)


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
    objects = QueryObjectSerializer(many=True)


class SimilarResponse(serializers.Serializer):
    crop_id = serializers.IntegerField()
    count = serializers.IntegerField()
    results = SearchResultSerializer(many=True)


class IndexingJobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)

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
            "created",
            "started",
            "finished",
            "error",
        ]


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
            "images",
            "images_done",
            "images_failed",
            "crops",
        ]


class CropActiveRequest(serializers.Serializer):
    is_active = serializers.BooleanField()


class ErrorResponse(serializers.Serializer):
    error = serializers.CharField()
    details = serializers.JSONField(required=False)
