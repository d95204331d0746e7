"""Request and response shapes of the search endpoints: text, image, photos, similar crops."""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from rest_framework import serializers

from search.query.errors import SearchInputError
from search.query.filters import MAX_FILTER_VALUES
from search.query.image.words import too_many as too_many_words
from search.query.validation import check_label_count


class LabelsField(serializers.ListField):
    """Labels as a list, repeated form fields or comma-separated text.

    The count is checked before DRF validates each item: a list of 600,000 labels is
    refused at once (search.query.validation splits, de-duplicates and checks the names).
    """

    child = serializers.CharField(allow_blank=True)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [data]
        if isinstance(data, list | tuple):
            check_label_count(len(data))
        return super().to_internal_value(data)


class WordsField(serializers.ListField):
    """Query words as a list, repeated form fields or comma-separated text; counted before each is validated."""

    child = serializers.CharField(allow_blank=True, trim_whitespace=False)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [data]
        if isinstance(data, list | tuple) and len(data) > settings.SEARCH_MAX_QUERY_WORDS:
            raise too_many_words(settings.SEARCH_MAX_QUERY_WORDS)
        return super().to_internal_value(data)


class FilterValuesField(serializers.ListField):
    """Dataset ids or split names: a list, repeated fields or comma-separated; counted first."""

    child = serializers.CharField(allow_blank=True)

    def to_internal_value(self, data):
        if isinstance(data, str | int):
            data = [str(data)]
        if isinstance(data, list | tuple) and len(data) > MAX_FILTER_VALUES:
            raise SearchInputError(f"Too many {self.field_name}: at most {MAX_FILTER_VALUES}.")
        return super().to_internal_value(data)


class NarrowingFields(serializers.Serializer):
    """What narrows a search (search.query.filters.CropFilter): every search request's, and "why this matched"'s."""

    labels = LabelsField(required=False, help_text="Only these labels (a list, repeated, or comma-separated).")
    datasets = FilterValuesField(required=False, help_text="Only crops of these dataset ids (see /api/datasets).")
    splits = FilterValuesField(required=False, help_text="Only crops of photos in these splits (train, val...).")


class FilterFields(NarrowingFields):
    """What every search request takes: the filters, how many results and a score floor."""

    k = serializers.IntegerField(required=False, help_text="Number of results (1..SEARCH_MAX_K).")
    min_score = serializers.FloatField(required=False, help_text="Drop results below this cosine similarity.")


class PagedFilterFields(FilterFields):
    collapse_duplicates = serializers.BooleanField(
        required=False, default=False, help_text="One result per group of duplicate photos."
    )
    offset = serializers.IntegerField(
        required=False,
        help_text="Skip this many results (paging; order: score, then crop id). "
        "Take the answer's next_offset for the next page; offset + k <= SEARCH_MAX_DEPTH.",
    )


class SearchTextRequest(PagedFilterFields):
    query = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="Words to search for.")


class SearchImageRequest(PagedFilterFields):
    image = serializers.FileField(help_text="The query photo (JPEG, PNG, WebP...), up to MAX_UPLOAD_BYTES.")
    box = serializers.CharField(
        required=False,
        help_text="Search only this region: x1,y1,x2,y2 in the photo's pixels. The detector does not run; "
        "the region is padded and cropped as a detected object is.",
    )
    words = WordsField(
        required=False,
        help_text="Also look for these words (a list, repeated, or comma-separated; at most SEARCH_MAX_QUERY_WORDS "
        "of at most 50 characters): an open-vocabulary detector scores the photo's region proposals against "
        "them, and the regions found are searched, labelled with the word. A detector with fixed classes "
        "(YOLOv5) refuses them.",
    )


class SearchPhotosRequest(FilterFields):
    image = serializers.FileField(help_text="The query photo; each of its detected objects is searched.")
    match = serializers.ChoiceField(
        choices=["all", "any"],
        required=False,
        help_text="all (default): photos holding objects like every query object; any: like at least one.",
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
    ranked_by = serializers.ChoiceField(
        choices=["vector", "text", "both"],
        help_text="Which signal ranked it: vector (CLIP similarity), text (its description matched the query's words), "
        "both. Text search fuses them when SEARCH_TEXT_FUSION=rrf; otherwise always vector.",
    )
    text_rank = serializers.IntegerField(
        allow_null=True, help_text="Its place among the description matches (1: best)."
    )
    text_match = serializers.FloatField(allow_null=True, help_text="ts_rank of its best description for the query.")
    fused_score = serializers.FloatField(
        allow_null=True, help_text="The reciprocal-rank fusion score results are ordered by (null without fusion)."
    )

    def to_representation(self, instance):
        return super().to_representation(asdict(instance))


class ResultListResponse(serializers.Serializer):
    """A ranked list of crops, best first."""

    count = serializers.IntegerField()
    results = SearchResultSerializer(many=True)


class SearchTextResponse(ResultListResponse):
    query = serializers.CharField()
    offset = serializers.IntegerField()
    next_offset = serializers.IntegerField(allow_null=True, help_text="The next page's offset; null on the last.")
    truncated = serializers.BooleanField(
        help_text="True when the search stopped at a cap (SEARCH_MAX_CANDIDATES, SEARCH_MAX_ROUNDS) or at the "
        "index's reach before it found k results: more may exist. Narrow the filter or page less deep."
    )


class QueryObjectSerializer(serializers.Serializer):
    label = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    box = serializers.ListField(child=serializers.FloatField())
    results = SearchResultSerializer(many=True)
    next_offset = serializers.IntegerField(allow_null=True, help_text="The next page's offset; null on the last.")
    searched = serializers.BooleanField(
        help_text="False for an object found past SEARCH_MAX_QUERY_OBJECTS: not searched, results empty; "
        "search it with box= set to its box."
    )
    truncated = serializers.BooleanField(
        help_text="True when the search stopped at a cap (SEARCH_MAX_CANDIDATES, SEARCH_MAX_ROUNDS) or at the "
        "index's reach before it found k results: more may exist. Narrow the filter or page less deep."
    )


class SearchImageResponse(serializers.Serializer):
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    whole_image = serializers.BooleanField(help_text="True when no object was found and the whole photo was searched.")
    message = serializers.CharField()
    objects_left_out = serializers.IntegerField(
        help_text="Objects found but not searched (only the SEARCH_MAX_QUERY_OBJECTS most confident are); "
        "they are in objects with searched false."
    )
    region = serializers.BooleanField(help_text="True when a box was given: that region alone was searched.")
    offset = serializers.IntegerField()
    truncated = serializers.BooleanField(
        help_text="True when the search stopped at a cap (SEARCH_MAX_CANDIDATES, SEARCH_MAX_ROUNDS) or at the "
        "index's reach before it found k results for some object: more may exist. Narrow the filter or page less deep."
    )
    objects = QueryObjectSerializer(many=True)


class PhotoMatchSerializer(serializers.Serializer):
    query_object = serializers.IntegerField(source="query_index", help_text="Index into the answer's objects.")
    crop = SearchResultSerializer(source="result", help_text="The photo's best crop for it, with its box.")


class PhotoResultSerializer(serializers.Serializer):
    image_id = serializers.IntegerField()
    image_url = serializers.CharField()
    dataset = serializers.CharField()
    split = serializers.CharField()
    score = serializers.FloatField(help_text="Mean over the query objects of the best match's score (0 if none).")
    matches = PhotoMatchSerializer(many=True)


class QueryObjectShapeSerializer(serializers.Serializer):
    label = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    box = serializers.ListField(child=serializers.FloatField())


class SearchPhotosResponse(serializers.Serializer):
    match = serializers.CharField()
    message = serializers.CharField()
    objects = QueryObjectShapeSerializer(many=True)
    count = serializers.IntegerField()
    photos = PhotoResultSerializer(many=True)


class SimilarResponse(ResultListResponse):
    crop_id = serializers.IntegerField()


class CropActiveRequest(serializers.Serializer):
    is_active = serializers.BooleanField()
