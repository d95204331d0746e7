"""The API's model changes: re-embeds and redetects with their progress (indexing.model_changes.lifecycle)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from indexing.model_changes import lifecycle as model_changes
from indexing.models import ModelChange
from search.api.base import SearchView
from search.api.serializers.common import asked_by_staff

CHANGE_ERROR_FOR_PUBLIC = "The model change stopped; an administrator can see why (manage.py reembed --status)."


class ModelChangeSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = ModelChange
        fields = [
            "id",
            "kind",
            "version",
            "status",
            "total",
            "processed",
            "progress",
            "created",
            "started",
            "finished",
            "heartbeat",
            "error",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data["error"] and not asked_by_staff(self):  # exception texts name server paths: staff only
            data["error"] = CHANGE_ERROR_FOR_PUBLIC
        return data


class ModelChangeListView(SearchView):
    """The newest re-embeds and redetects, stale ones marked (start them with manage.py reembed / redetect)."""

    @extend_schema(responses={200: ModelChangeSerializer(many=True)})
    def get(self, request: Request) -> Response:
        changes = model_changes.recent_changes()
        return Response(ModelChangeSerializer(changes, many=True, context={"request": request}).data)
