"""Read-only queries for the pages and the API: datasets with their counts and recent jobs."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from indexing.models import Dataset, IndexingJob, SourceImage

# Jobs listed under each dataset on the datasets page, newest first.
RECENT_JOBS_PER_DATASET = 5


def datasets_with_counts() -> QuerySet[Dataset]:
    """Datasets with their image, status and crop counts, for the datasets page and API."""
    return Dataset.objects.annotate(
        image_count=Count("images", distinct=True),
        images_done=Count("images", filter=Q(images__status=SourceImage.Status.DONE), distinct=True),
        images_failed=Count("images", filter=Q(images__status=SourceImage.Status.FAILED), distinct=True),
        crop_count=Count("images__crops", distinct=True),
    ).order_by("name", "version")


def datasets_with_recent_jobs(per_dataset: int = RECENT_JOBS_PER_DATASET) -> list[Dataset]:
    """datasets_with_counts, each with ``recent_jobs``: its newest jobs (one query for all of them)."""
    datasets = list(datasets_with_counts())
    by_dataset: dict[int, list[IndexingJob]] = {}
    for job in IndexingJob.objects.filter(dataset__in=datasets).order_by("-created"):
        by_dataset.setdefault(job.dataset_id, []).append(job)
    for dataset in datasets:
        dataset.recent_jobs = by_dataset.get(dataset.pk, [])[:per_dataset]
        # A dataset being deleted (indexing.deletion): photos gone so far.
        dataset.deleted_images = max(dataset.deletion_total - dataset.image_count, 0)
    return datasets


def source_image(image_id: int) -> SourceImage:
    """The photo a crop was cut from, for the crop page."""
    return SourceImage.objects.get(pk=image_id)


def dataset_by_reference(reference: str) -> Dataset:
    """A dataset named by its id or ``name:version`` (the commands' argument); Dataset.DoesNotExist if none."""
    if reference.isdigit():
        return Dataset.objects.get(pk=int(reference))
    name, _, version = reference.partition(":")
    return Dataset.objects.get(name=name, version=version or "version_1")
