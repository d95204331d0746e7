"""Duplicate groups: link a photo to what it duplicates, review decisions, recompute.

Every write takes one transaction-level advisory lock, so two workers indexing two copies
of a photo at once end up in one group, never two. Review decisions are remembered:
"not duplicates" stores every pair of the group (indexing.duplicates.matching never matches them
again, recompute included), and a resolved group keeps its members through a recompute.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from django.db import connection, transaction
from django.db.models import Count, F, QuerySet

from indexing import queue
from indexing.catalog import curation
from indexing.catalog.guards import refuse_if_deleting
from indexing.duplicates.fingerprints import FINGERPRINT_VERSION
from indexing.duplicates.matching import ALL_TIERS, Match, find_matches, fingerprint_stored_image
from indexing.models import (
    Dataset,
    DuplicateGroup,
    DuplicateMember,
    NotDuplicatePair,
    PhotoFingerprint,
    SourceImage,
)
from indexing.pipeline import queued

# Any constant: the key of the advisory lock all group writes share.
_GROUP_LOCK_KEY = 0x44_55_50_47  # "DUPG"


class DuplicateReviewError(ValueError):
    """A review action that does not fit the group (a photo not in it, a group already gone)."""


def _lock_groups() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_GROUP_LOCK_KEY])


def link_image(image: SourceImage, matches: Sequence[Match]) -> DuplicateGroup | None:
    """Put ``image`` and the photos it matched in one group (merging their groups); None without matches.

    The image joins with its best match's tier and score; a matched photo not yet in a
    group joins with its match to ``image``. A resolved group that gains a photo opens again.
    """
    if not matches:
        return None
    with transaction.atomic():
        _lock_groups()
        ids = [image.pk, *(m.image_id for m in matches)]
        members = {m.image_id: m for m in DuplicateMember.objects.filter(image_id__in=ids).select_related("group")}
        groups = sorted({m.group for m in members.values()}, key=lambda g: g.pk)
        group = groups[0] if groups else DuplicateGroup.objects.create()
        for other in groups[1:]:  # one picture, one group
            DuplicateMember.objects.filter(group=other).update(group=group)
            if other.status == DuplicateGroup.Status.OPEN:
                group.status = DuplicateGroup.Status.OPEN
            other.delete()
        added = False
        best = matches[0]
        if image.pk not in members:
            DuplicateMember.objects.create(
                group=group,
                image=image,
                matched_id=best.image_id,
                tier=best.tier,
                score=best.score,
                evidence=best.evidence,
            )
            added = True
        for match in matches:
            if match.image_id not in members:
                DuplicateMember.objects.create(
                    group=group,
                    image_id=match.image_id,
                    matched=image,
                    tier=match.tier,
                    score=match.score,
                    evidence=match.flipped(),
                )
                added = True
        if added or len(groups) > 1:
            if added:
                group.status = DuplicateGroup.Status.OPEN
            group.save()
    return group


def keep_one(*, group_id: int, image_id: int) -> DuplicateGroup:
    """Keep ``image_id``: the other photos' visible crops are hidden as duplicates (search stops returning them).

    The kept photo's crops hidden by an earlier review are shown again; crops a curator hid stay hidden.
    """
    with transaction.atomic():
        _lock_groups()
        group = _group(group_id)
        member_ids = set(group.members.values_list("image_id", flat=True))
        if image_id not in member_ids:
            raise DuplicateReviewError(f"Photo {image_id} is not in duplicate group {group_id}.")
        # Only what a duplicate review hid is shown again: a curator's hides stay (indexing.catalog.curation).
        curation.hide_as_duplicates(image_ids=member_ids - {image_id})
        curation.show_duplicates(image_ids=[image_id])
        group.status, group.kept_id = DuplicateGroup.Status.RESOLVED, image_id
        group.save()
    return group


def not_duplicates(*, group_id: int) -> int:
    """Remember that the group's photos are not duplicates of each other and dissolve it; returns pairs stored.

    Crops an earlier "keep one" hid are shown again (a curator's hides stay).
    """
    with transaction.atomic():
        _lock_groups()
        group = _group(group_id)
        ids = sorted(group.members.values_list("image_id", flat=True))
        pairs = [NotDuplicatePair(first_id=a, second_id=b) for a, b in itertools.combinations(ids, 2)]
        NotDuplicatePair.objects.bulk_create(pairs, ignore_conflicts=True)
        curation.show_duplicates(image_ids=ids)  # a "keep one" made earlier is undone with the group
        group.delete()
    return len(pairs)


def resolve_groups(*, group_ids: Iterable[int]) -> int:
    """Resolve many groups at once, each keeping its largest photo (then the oldest); returns how many."""
    resolved = 0
    for group_id in group_ids:
        keep = (
            SourceImage.objects.filter(duplicate_member__group_id=group_id)
            .annotate(pixels=F("width") * F("height"))
            .order_by(F("pixels").desc(nulls_last=True), "id")
            .values_list("pk", flat=True)
            .first()
        )
        if keep is not None:
            keep_one(group_id=group_id, image_id=keep)
            resolved += 1
    return resolved


def release_kept(*, image_ids: Sequence[int]) -> int:
    """Photos about to be deleted (a dataset's deletion, in its transaction): groups that kept one of them
    show their other photos again and open for review again; returns how many groups.

    A group left with one photo is dropped (nothing to review). Without this, deleting the
    kept photo's dataset would leave its copies in other datasets hidden for good.
    """
    _lock_groups()
    ids = list(image_ids)
    touched = set(DuplicateMember.objects.filter(image_id__in=ids).values_list("group_id", flat=True))
    released = list(DuplicateGroup.objects.filter(kept_id__in=ids))
    for group in released:
        others = list(group.members.exclude(image_id__in=ids).values_list("image_id", flat=True))
        curation.show_duplicates(image_ids=others)
        group.status, group.kept = DuplicateGroup.Status.OPEN, None
        group.save()
    DuplicateMember.objects.filter(image_id__in=ids).delete()
    _drop_small_groups(DuplicateGroup.objects.filter(pk__in=touched))
    return len(released)


def recompute_dataset(*, dataset_id: int) -> int:
    """Match a dataset's photos again; returns how many joined a group.

    Open memberships of its photos are dropped first; resolved groups and "not duplicates"
    decisions stay. Photos without a fingerprint (indexed before this feature), or with one of an
    older FINGERPRINT_VERSION (before orientations, borders and descriptors), get one now.
    DatasetDeleting for a dataset being deleted (or gone).
    """
    refuse_if_deleting(dataset_id)  # DatasetDeleting: its photos are going
    dataset = Dataset.objects.get(pk=dataset_id)
    images = list(SourceImage.objects.filter(dataset=dataset).order_by("id"))
    with transaction.atomic():
        _lock_groups()
        DuplicateMember.objects.filter(image__dataset=dataset, group__status=DuplicateGroup.Status.OPEN).delete()
        _drop_small_groups()
    current = PhotoFingerprint.objects.filter(image__dataset=dataset, version__gte=FINGERPRINT_VERSION)
    known = set(current.values_list("image_id", flat=True))
    for image in images:
        if image.pk not in known and image.status != SourceImage.Status.FAILED:
            fingerprint_stored_image(image)
    linked = 0
    for image in images:
        if link_image(image, find_matches(image, ALL_TIERS)) is not None:
            linked += 1
    return linked


def queue_recompute(*, dataset_id: int) -> bool:
    """Recompute a dataset's groups on a worker, once the caller's transaction commits (admin, API).

    Coalesced (indexing.pipeline.queued): False when a recompute of the dataset already waits for a
    worker. DatasetDeleting for a dataset being deleted.
    """
    queue.require_workers()
    Dataset.objects.get(pk=dataset_id)  # DoesNotExist now, not in the worker
    refuse_if_deleting(dataset_id)
    _, created = queued.queue_once(
        kind=queued.RECOMPUTE_DUPLICATES,
        target=dataset_id,
        send=lambda queued_id: queue.send(queue.RECOMPUTE_DUPLICATES, dataset_id, queued_id),
    )
    return created


def _drop_small_groups(groups: QuerySet[DuplicateGroup] | None = None) -> None:
    groups = DuplicateGroup.objects.all() if groups is None else groups
    groups.annotate(size=Count("members")).filter(size__lt=2).delete()


def _group(group_id: int) -> DuplicateGroup:
    group = DuplicateGroup.objects.filter(pk=group_id).first()
    if group is None:
        raise DuplicateReviewError(f"There is no duplicate group {group_id}.")
    return group
