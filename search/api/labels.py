"""The API's labels: the classes the served detector gives, each with its name in the reader's language."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from indexing.served_models import served_classes
from search.api.base import SearchView
from search.label_names import display_name


class LabelSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="As stored on crops, and as `labels` filters take it.")
    name = serializers.CharField(help_text="In the request's language (Accept-Language); filters take it too.")


class LabelsResponse(serializers.Serializer):
    count = serializers.IntegerField()
    labels = LabelSerializer(many=True)


class LabelListView(SearchView):
    @extend_schema(responses={200: LabelsResponse})
    def get(self, request: Request) -> Response:
        """What `labels` filters accept: DETECTOR_CLASSES, or every class of the served detector with `all`."""
        labels = [{"label": label, "name": display_name(label)} for label in served_classes()]
        return Response(LabelsResponse({"count": len(labels), "labels": labels}).data)
