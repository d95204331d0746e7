"""Duplicate groups in the admin: pages with thumbnails and tiers, resolve and "not duplicates" actions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from indexing.duplicates import groups as duplicate_groups
from indexing.duplicates.matching import Match
from indexing.models import Crop, DuplicateGroup, NotDuplicatePair, Tier
from tests.factories import make_crop, make_dataset, make_image, unit_vectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups() -> list[DuplicateGroup]:
    dataset = make_dataset()
    images = [make_image(dataset, seed) for seed in range(4)]
    for image, vector in zip(images, unit_vectors(4), strict=True):
        make_crop(image, vector)
    return [
        duplicate_groups.link_image(images[0], [Match(images[1].pk, Tier.PERCEPTUAL, 0.9688)]),
        duplicate_groups.link_image(images[2], [Match(images[3].pk, Tier.EXACT, 1.0)]),
    ]


def test_the_group_pages_show_photos_tiers_and_scores(admin_client, groups):
    listing = admin_client.get(reverse("admin:indexing_duplicategroup_changelist")).content.decode()
    assert "perceptual 0.969" in listing and "exact 1.000" in listing
    page = admin_client.get(reverse("admin:indexing_duplicategroup_change", args=[groups[0].pk])).content.decode()
    assert page.count("<img") >= 2 and "64×48" in page


def test_resolve_action_keeps_one_and_hides_the_others_crops(admin_client, groups):
    url = reverse("admin:indexing_duplicategroup_changelist")
    ids = [g.pk for g in groups]
    admin_client.post(url, {"action": "resolve_keep_largest", "_selected_action": ids}, follow=True)
    assert DuplicateGroup.objects.filter(status="resolved").count() == 2
    assert Crop.objects.filter(is_active=False).count() == 2


def test_not_duplicates_action_remembers_pairs(admin_client, groups):
    url = reverse("admin:indexing_duplicategroup_changelist")
    admin_client.post(url, {"action": "mark_not_duplicates", "_selected_action": [groups[0].pk]}, follow=True)
    assert NotDuplicatePair.objects.count() == 1
    assert list(DuplicateGroup.objects.values_list("pk", flat=True)) == [groups[1].pk]


def test_staff_without_change_crop_cannot_resolve(client, groups):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_duplicategroup"))
    client.force_login(user)
    url = reverse("admin:indexing_duplicategroup_changelist")
    assert client.get(url).status_code == 200
    client.post(url, {"action": "resolve_keep_largest", "_selected_action": [groups[0].pk]})
    assert DuplicateGroup.objects.filter(status="resolved").count() == 0
    assert Crop.objects.filter(is_active=False).count() == 0
