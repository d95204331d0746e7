""" "Why this matched": GET /api/crops/{id}/why?q=... (search.query.explain)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from search.api.base import SearchView, validated
from search.api.search import filters_of
from search.api.serializers import queries as s
from search.api.serializers.common import ErrorResponse
from search.query import explain


class WhyRequest(s.NarrowingFields):
    """The query and the filters the crop was found under (the describer explains the top results of that search)."""

    q = serializers.CharField(help_text="The text query the crop was found by.")


class WhyResponse(serializers.Serializer):
    crop_id = serializers.IntegerField()
    query = serializers.CharField()
    visual_similarity = serializers.FloatField(
        allow_null=True, help_text="CLIP cosine of the query's text and the crop (null: another CLIP made the crop)."
    )
    text_match = serializers.FloatField(
        allow_null=True, help_text="ts_rank of the crop's best description for the query's words (null: none matched)."
    )
    matched_description = serializers.CharField(allow_blank=True)
    matched_photo = serializers.BooleanField(help_text="The matched description is of the crop's whole photo.")
    label = serializers.CharField()
    label_agreement = serializers.BooleanField(help_text="Whether the query names the crop's label.")
    detector_confidence = serializers.FloatField()
    sentence = serializers.CharField()
    source = serializers.ChoiceField(choices=["template", "vlm"], help_text="Who wrote the sentence.")
    model = serializers.CharField(allow_blank=True, help_text="The describer's version (source vlm).")
    fallback = serializers.CharField(
        allow_blank=True,
        help_text="Why the template's sentence was given when the describer's was asked for: time budget, "
        "not a top result, busy, describer failed, no chat model (empty otherwise).",
    )
    note = serializers.CharField(allow_blank=True, help_text="Why the describer's sentence was not given, if asked.")


class WhyView(SearchView):
    @extend_schema(parameters=[WhyRequest], responses={200: WhyResponse, 400: ErrorResponse, 404: ErrorResponse})
    def get(self, request: Request, crop_id: int) -> Response:
        params = validated(WhyRequest, request.query_params)
        found = explain.explain(crop_id, params["q"], use_vlm=True, labels=params.get("labels"), **filters_of(params))
        return Response(WhyResponse(vars(found)).data)
