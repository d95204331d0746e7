"""Describe what is already indexed (``manage.py describe_crops``): dataset by dataset, each under its lock.

The command runs beside the workers' queued runs (indexing.descriptions.backlog), so it
takes the same per-dataset advisory lock: a dataset a queued run is describing is skipped
and named, never described twice side by side (the command, run again later, takes what
is left). Each dataset gets its own run record, so the datasets page shows its progress,
and a dataset with nothing left to describe gets none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import QuerySet

from indexing.descriptions import runs
from indexing.descriptions.backlog import dataset_lock
from indexing.models import Crop, Dataset, DescriptionRun
from indexing.vision import describe


@dataclass
class Described:
    """What one command run did: the runs it made, in dataset order, and the datasets it had to skip."""

    model: str
    runs: list[DescriptionRun] = field(default_factory=list)
    busy: list[Dataset] = field(default_factory=list)  # being described by another run meanwhile

    @property
    def described(self) -> int:
        return sum(record.described for record in self.runs)

    @property
    def failed(self) -> DescriptionRun | None:
        return next((r for r in self.runs if r.status == DescriptionRun.Status.FAILED), None)


def describe_existing(
    datasets: QuerySet[Dataset],
    *,
    limit: int | None = None,
    progress: Callable[[DescriptionRun], None] | None = None,
) -> Described:
    """Describe the undescribed crops of the active ones of ``datasets``, at most ``limit`` in all.

    Stops at the first failed run (the describer is down: the next dataset would fail the
    same way). Raises DescriberError, before any run, when the describer cannot be set up.
    """
    describer = describe.configured()
    done = Described(model=describer.version)
    left = limit
    for dataset in datasets.filter(status=Dataset.Status.ACTIVE).order_by("pk"):
        if left is not None and left <= 0:
            break
        crops = Crop.objects.filter(image__dataset=dataset)
        if not runs.undescribed(crops, describer.version).exists():
            continue
        with dataset_lock(dataset.pk) as held:
            if not held:
                done.busy.append(dataset)
                continue
            record = runs.run(crops, dataset=dataset, describer=describer, limit=left, progress=progress)
        done.runs.append(record)
        if record.status == DescriptionRun.Status.FAILED:
            break
        if left is not None:
            left -= record.described
    return done
