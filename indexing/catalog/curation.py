"""Curation: hide crops from search, or show them again, keeping apart who hid them.

``Crop.is_active`` is the one visibility column (search, the index tail and the
reactivation stamp read it); ``Crop.hidden_by`` says why it is off, and only the path
that hid a crop shows it again:

- a curator (admin actions and edits, the API's PATCH): ``set_crops_active``. A person's
  word is final: a curator's hide outlasts every duplicate decision, and a curator's
  show wins over a duplicate review's hide;
- a duplicate review ("keep one", indexing.duplicates.groups): ``hide_as_duplicates``
  hides only crops that are visible, and ``show_duplicates`` shows only crops it hid.

A redetect replaces a photo's crops: ``hidden_state`` read before and
``restore_hidden`` after carry both reasons over to the new crops (``CARRY_IOU``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import F, QuerySet

from indexing.models import Crop, DuplicateMember
from indexing.vision.merging import iou  # the detector's merge rule: one overlap measure for boxes

HiddenBy = Crop.HiddenBy
# A new crop whose box overlaps a curator-hidden old crop of its photo this much (intersection
# over union) is the same object: it stays hidden. Labels are not compared: new weights may rename.
CARRY_IOU = 0.5

Box = tuple[float, float, float, float]


def set_crops_active(crops: QuerySet[Crop], active: bool) -> int:
    """A curator hides crops from search (or shows them again); returns how many rows matched.

    Search re-checks ``is_active`` on every result, so this takes effect at once;
    the next index build drops inactive crops from FAISS too.
    """
    if active:
        return crops.update(is_active=True, hidden_by="")
    return crops.update(is_active=False, hidden_by=HiddenBy.CURATOR)


def set_crop_active(*, crop_id: int, active: bool) -> Crop | None:
    """One crop hidden or shown again, as it is now (with its image and dataset); None if there is no such crop."""
    if not set_crops_active(Crop.objects.filter(pk=crop_id), active):
        return None
    return Crop.objects.select_related("image__dataset").get(pk=crop_id)


def hide_as_duplicates(*, image_ids: Iterable[int]) -> int:
    """The visible crops of photos that lost a duplicate review, hidden (a curator's hides stay theirs)."""
    return Crop.objects.filter(image_id__in=list(image_ids), is_active=True).update(
        is_active=False, hidden_by=HiddenBy.DUPLICATE
    )


def show_duplicates(*, image_ids: Iterable[int]) -> int:
    """Crops a duplicate review hid, shown again; a curator's hides stay hidden."""
    return Crop.objects.filter(image_id__in=list(image_ids), is_active=False, hidden_by=HiddenBy.DUPLICATE).update(
        is_active=True, hidden_by=""
    )


# --- Carried over a redetect -------------------------------------------------------------


@dataclass
class HiddenState:
    """What was hidden on some photos before their crops were replaced."""

    # Photos that lost a duplicate review: all their new crops are hidden as duplicates.
    duplicates: set[int] = field(default_factory=set)
    # Per photo, the boxes of the crops a curator hid.
    curator_boxes: dict[int, list[Box]] = field(default_factory=dict)


def hidden_state(image_ids: Iterable[int]) -> HiddenState:
    """Read in the transaction that replaces the crops, with their rows locked: a curator's
    hide made meanwhile waits for the replacement instead of being lost with the old rows.
    """
    ids = list(image_ids)
    state = HiddenState()
    old = Crop.objects.select_for_update().filter(image_id__in=ids, is_active=False)
    for image_id, hidden_by, *box in old.values_list("image_id", "hidden_by", "x1", "y1", "x2", "y2"):
        if hidden_by == HiddenBy.DUPLICATE:
            state.duplicates.add(image_id)
        else:
            state.curator_boxes.setdefault(image_id, []).append(tuple(box))
    # The photo-level decision too: a losing photo whose crops a curator had all hidden has none marked.
    lost = DuplicateMember.objects.filter(image_id__in=ids, group__kept__isnull=False).exclude(
        group__kept_id=F("image_id")
    )
    state.duplicates.update(lost.values_list("image_id", flat=True))
    return state


def restore_hidden(state: HiddenState, image_ids: Iterable[int]) -> int:
    """Hide the photos' new crops as their old ones were hidden; returns how many are hidden."""
    ids = [i for i in image_ids if i in state.duplicates or i in state.curator_boxes]
    curator, duplicate = [], []
    new = Crop.objects.filter(image_id__in=ids).values_list("pk", "image_id", "x1", "y1", "x2", "y2")
    for pk, image_id, *box in new:
        if any(iou(tuple(box), old) >= CARRY_IOU for old in state.curator_boxes.get(image_id, ())):
            curator.append(pk)
        elif image_id in state.duplicates:
            duplicate.append(pk)
    Crop.objects.filter(pk__in=curator).update(is_active=False, hidden_by=HiddenBy.CURATOR)
    Crop.objects.filter(pk__in=duplicate).update(is_active=False, hidden_by=HiddenBy.DUPLICATE)
    return len(curator) + len(duplicate)
