"""An indexing job's progress as the datasets page and the jobs API show it: counts and time left."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from indexing.models import IndexingJob


def eta_seconds(job: IndexingJob, now: datetime | None = None) -> float | None:
    """Seconds left at the pace so far (failed photos count as processed); None until it can be told."""
    if job.status != IndexingJob.Status.RUNNING or not job.started or not job.total_images:
        return None
    if not job.processed_images:
        return None
    elapsed = ((now or timezone.now()) - job.started).total_seconds()
    remaining = job.total_images - job.processed_images
    return round(max(elapsed, 0.0) * remaining / job.processed_images, 1)


def eta_text(seconds: float | None) -> str:
    """``about 3 min left``; the page's script writes the same words as it polls."""
    if seconds is None:
        return ""
    if seconds < 60:
        return _("about %(n)s s left") % {"n": max(round(seconds), 1)}
    if seconds < 3600:
        return _("about %(n)s min left") % {"n": round(seconds / 60)}
    return _("about %(n)s h left") % {"n": f"{seconds / 3600:.1f}"}


def duration_seconds(job: IndexingJob, now: datetime | None = None) -> float | None:
    """How long it took (finished) or has run so far (started); None before it starts."""
    if not job.started:
        return None
    end = job.finished or (now or timezone.now())
    return max((end - job.started).total_seconds(), 0.0)


def duration_text(seconds: float | None) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 12 min``; the page's script writes the same words as it polls."""
    if seconds is None:
        return ""
    whole = round(seconds)
    if whole < 60:
        return _("%(s)s s") % {"s": whole}
    if whole < 3600:
        return _("%(m)s min %(s)s s") % {"m": whole // 60, "s": whole % 60}
    return _("%(h)s h %(m)s min") % {"h": whole // 3600, "m": whole % 3600 // 60}


# Job and model-change statuses as stored (and as the API sends them), marked for the catalog.
STATUSES = (
    gettext_noop("queued"),
    gettext_noop("running"),
    gettext_noop("done"),
    gettext_noop("failed"),
    gettext_noop("stale"),
)


def status_name(status: str) -> str:
    """A stored status in the reader's language."""
    return _(status) if status in STATUSES else status


def script_words() -> dict:
    """The words the datasets page's script writes as it polls, in the reader's language (same msgids as here)."""
    return {
        "eta": {"s": _("about %(n)s s left"), "min": _("about %(n)s min left"), "h": _("about %(n)s h left")},
        "duration": {"s": _("%(s)s s"), "min": _("%(m)s min %(s)s s"), "h": _("%(h)s h %(m)s min")},
        "took": _("took %(duration)s"),
        "running_for": _("running for %(duration)s"),
        "finished": _("finished"),
        "status": {status: _(status) for status in STATUSES},
    }
