"""The duplicates review page (staff): groups with thumbnails, keep one, not duplicates, resolve many.

Each POST is one call into indexing.duplicates.groups, then back to the list with a message.
Writes need indexing.change_crop (keeping one deactivates the others' crops), as in the admin.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from indexing.duplicates import groups as duplicate_groups
from indexing.duplicates import selectors as duplicate_selectors
from indexing.duplicates.groups import DuplicateReviewError
from indexing.models import CURATE_CROPS_PERMISSION, Dataset, Tier


def _check_can_curate(request: HttpRequest) -> None:
    if not request.user.has_perm(CURATE_CROPS_PERMISSION):
        raise PermissionDenied("Reviewing duplicates needs the indexing.change_crop permission.")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@staff_member_required
def review(request: HttpRequest) -> HttpResponse:
    """A page of groups, most confident first, filtered by tier and dataset, with links to the next pages."""
    status = "resolved" if request.GET.get("status") == "resolved" else "open"
    tier = request.GET.get("tier") if request.GET.get("tier") in Tier.values else ""
    dataset_id = _int(request.GET.get("dataset"))
    found = duplicate_selectors.review_page(
        status, tier=tier or None, dataset_id=dataset_id, page=_int(request.GET.get("page")) or 1
    )
    keep = {"status": status, **({"tier": tier} if tier else {}), **({"dataset": dataset_id} if dataset_id else {})}
    context = {
        "groups": found.groups,
        "page": found,
        "status": status,
        "tier": tier,
        "dataset_id": dataset_id,
        "tiers": Tier.values,
        "datasets": Dataset.objects.order_by("name", "version").values("pk", "name", "version"),
        "query": urlencode(keep),
    }
    return render(request, "search/duplicates.html", context)


@staff_member_required
@require_POST
def keep(request: HttpRequest, group_id: int) -> HttpResponse:
    _check_can_curate(request)
    image_id = _int(request.POST.get("image_id"))
    try:
        if image_id is None:
            raise DuplicateReviewError(_("Choose the photo to keep."))
        duplicate_groups.keep_one(group_id=group_id, image_id=image_id)
    except DuplicateReviewError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Group %(group)s: kept photo %(image)s; the others' crops are hidden.")
            % {"group": group_id, "image": image_id},
        )
    return redirect("search:duplicates")


@staff_member_required
@require_POST
def not_duplicates(request: HttpRequest, group_id: int) -> HttpResponse:
    _check_can_curate(request)
    try:
        duplicate_groups.not_duplicates(group_id=group_id)
    except DuplicateReviewError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Group %(group)s: not duplicates; these photos will not be grouped again.") % {"group": group_id}
        )
    return redirect("search:duplicates")


@staff_member_required
@require_POST
def resolve_many(request: HttpRequest) -> HttpResponse:
    _check_can_curate(request)
    ids = [i for i in (_int(v) for v in request.POST.getlist("group_ids")) if i is not None]
    if not ids:
        messages.error(request, _("Select the groups to resolve."))
    else:
        count = duplicate_groups.resolve_groups(group_ids=ids)
        messages.success(
            request,
            ngettext(
                "Resolved %(count)d group, keeping its largest photo.",
                "Resolved %(count)d groups, each keeping its largest photo.",
                count,
            )
            % {"count": count},
        )
    return redirect("search:duplicates")
