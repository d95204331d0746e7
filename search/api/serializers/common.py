"""What every part of the API shares: the error shape, and who sees details."""

from __future__ import annotations

from rest_framework import serializers

from visualsearch.access import sees_details


def asked_by_staff(serializer: serializers.Serializer) -> bool:
    request = serializer.context.get("request")
    return request is not None and sees_details(request.user)


class ErrorResponse(serializers.Serializer):
    error = serializers.CharField()
    details = serializers.JSONField(required=False)
