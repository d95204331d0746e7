"""Near-duplicates in the real PostgreSQL: mirrored, turned, bordered and cropped copies join their original.

COCO128 giraffes: 000000000025 is the original, 000000000072 another giraffe photo (the same
kind of scene, not the same picture), which must stay out of the group.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.catalog import ingest
from indexing.catalog.stored_files import decode_stored_image
from indexing.duplicates import groups as duplicate_groups
from indexing.duplicates import matching as duplicates
from indexing.duplicates import verification
from indexing.models import DuplicateMember, SourceImage, Tier
from tests.duplicate_photos import altered
from tests.factories import make_dataset

ORIGINAL, SAME_SCENE = "000000000025.jpg", "000000000072.jpg"


def stored(dataset, name: str, data: bytes) -> SourceImage:
    image, _ = ingest.ingest_image(dataset, name, data)
    duplicates.store_fingerprint(image, decode_stored_image(image))
    return image


def linked(image: SourceImage) -> list[duplicates.Match]:
    matches = duplicates.find_matches(image)
    duplicate_groups.link_image(image, matches)
    return matches


@pytest.fixture
def giraffes(db, coco128_dir: Path) -> dict[str, SourceImage]:
    """The original and the other giraffe photo, stored and matched (no group: they are not duplicates)."""
    folder = coco128_dir / "images" / "train2017"
    dataset = make_dataset()
    photos = {"original": stored(dataset, "original.jpg", (folder / ORIGINAL).read_bytes())}
    photos["other giraffe"] = stored(dataset, "other.jpg", (folder / SAME_SCENE).read_bytes())
    for image in photos.values():
        assert linked(image) == []
    photos["dataset"] = dataset
    photos["path"] = folder / ORIGINAL
    return photos


def copy_of(giraffes, change: str) -> SourceImage:
    return stored(giraffes["dataset"], f"{change}.jpg", altered(giraffes["path"], change))


@pytest.mark.parametrize(
    ("change", "tier"),
    [
        ("mirror", Tier.PERCEPTUAL),
        ("rot90", Tier.PERCEPTUAL),
        ("letterbox", Tier.PERCEPTUAL),
        ("crop80", Tier.VERIFIED),
    ],
)
def test_an_edited_copy_joins_its_originals_group(giraffes, change, tier):
    copy = copy_of(giraffes, change)
    matches = linked(copy)

    assert [(m.image_id, m.tier) for m in matches] == [(giraffes["original"].pk, tier)]
    member = DuplicateMember.objects.get(image=copy)
    assert member.group == DuplicateMember.objects.get(image=giraffes["original"]).group
    assert (member.tier, member.matched_id) == (tier, giraffes["original"].pk)
    assert not DuplicateMember.objects.filter(image=giraffes["other giraffe"]).exists()


def test_every_copy_ends_in_one_group_without_the_other_giraffe(giraffes):
    copies = [copy_of(giraffes, change) for change in ("mirror", "rot90", "letterbox", "crop80", "crop60", "rot4")]
    for image in copies:
        linked(image)
    group = DuplicateMember.objects.get(image=giraffes["original"]).group
    members = set(group.members.values_list("image_id", flat=True))

    assert members == {giraffes["original"].pk, *(c.pk for c in copies)}
    assert not DuplicateMember.objects.filter(image=giraffes["other giraffe"]).exists()


def test_a_crop_is_verified_with_the_region_it_shares(giraffes):
    before = dict(verification.stats)
    match = linked(copy_of(giraffes, "crop80"))[0]

    # The crop is 80 % of each side: its matched region covers most of it, and about 80 % of the original.
    left, top, right, bottom = match.evidence["box"]
    m_left, m_top, m_right, m_bottom = match.evidence["matched_box"]
    assert (right - left) > 0.8 and (bottom - top) > 0.7
    assert 0.6 < (m_right - m_left) < 0.85 and 0.55 < (m_bottom - m_top) < 0.85
    assert match.evidence["inliers"] >= 20
    calls = verification.stats["calls"] - before["calls"]
    assert 1 <= calls <= 8  # bounded by DEDUP_VERIFY_MAX_CALLS
    original = DuplicateMember.objects.get(image=giraffes["original"])
    assert original.evidence["box"] == match.evidence["matched_box"]  # seen from the original's side


def test_the_verification_tier_can_be_turned_off(giraffes, settings):
    settings.DEDUP_VERIFY_MAX_CALLS = 0
    assert linked(copy_of(giraffes, "crop80")) == []
