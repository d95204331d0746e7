"""Shapes of the duplicates API: groups with their members, review actions, the same object elsewhere."""

from __future__ import annotations

from rest_framework import serializers


class DuplicateMemberSerializer(serializers.Serializer):
    image_id = serializers.IntegerField()
    image_url = serializers.SerializerMethodField()
    original_name = serializers.CharField(source="image.original_name")
    dataset = serializers.CharField(source="image.dataset")
    width = serializers.IntegerField(source="image.width", allow_null=True)
    height = serializers.IntegerField(source="image.height", allow_null=True)
    tier = serializers.CharField(help_text="exact, perceptual, verified or semantic: how this photo matched.")
    score = serializers.FloatField(help_text="How closely: 1.0 exact; 1 - differing bits/64; inliers/100; cosine.")
    matched_image_id = serializers.IntegerField(source="matched_id", allow_null=True)
    evidence = serializers.JSONField(
        allow_null=True,
        help_text="Why: perceptual {distance}; verified {inliers, box, matched_box}: the shared region in this "
        "photo and in the matched one, [left, top, right, bottom] as shares of width and height.",
    )
    active_crops = serializers.IntegerField()

    def get_image_url(self, member) -> str:
        return member.image.file.url if member.image.file else ""


class DuplicateGroupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    kept_image_id = serializers.IntegerField(source="kept_id", allow_null=True)
    updated = serializers.DateTimeField()
    members = DuplicateMemberSerializer(many=True)


class GroupListRequest(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "resolved", "all"], required=False, default="open")
    tier = serializers.ChoiceField(
        choices=["exact", "perceptual", "verified", "semantic"],
        required=False,
        help_text="Groups with a member it matched.",
    )
    dataset = serializers.IntegerField(required=False, help_text="Groups with a photo in this dataset (id).")
    page = serializers.IntegerField(
        required=False, default=1, min_value=1, help_text="50 groups a page, most confident first; see the Link header."
    )


class KeepRequest(serializers.Serializer):
    image_id = serializers.IntegerField(help_text="The photo to keep; the others' crops are deactivated.")


class ResolveRequest(serializers.Serializer):
    group_ids = serializers.ListField(
        child=serializers.IntegerField(), min_length=1, max_length=1000, help_text="Each keeps its largest photo."
    )


class CountResponse(serializers.Serializer):
    count = serializers.IntegerField()


class SameObjectSerializer(serializers.Serializer):
    crop_id = serializers.IntegerField(source="crop.pk")
    image_id = serializers.IntegerField(source="crop.image_id")
    label = serializers.CharField(source="crop.label")
    score = serializers.FloatField()
    crop_url = serializers.SerializerMethodField()
    duplicate_group = serializers.IntegerField(allow_null=True, help_text="Its photo's duplicate group, if any.")

    def get_crop_url(self, row) -> str:
        return row["crop"].file.url if row["crop"].file else ""


class SameObjectResponse(serializers.Serializer):
    crop_id = serializers.IntegerField()
    groups = serializers.ListField(child=SameObjectSerializer(many=True), help_text="Crops grouped by photo group.")
