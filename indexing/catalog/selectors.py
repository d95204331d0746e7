"""Read-only queries for the pages and the API: datasets with their counts and recent jobs."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from indexing.descriptions.selectors import progress_by_dataset
from indexing.models import Crop, Dataset, IndexingJob, SourceImage

# Jobs listed under each dataset on the datasets page, newest first.
RECENT_JOBS_PER_DATASET = 5
# Datasets per page of the datasets page: what one hit reads is bounded by it.
DATASETS_PER_PAGE = 20


def datasets_with_counts() -> QuerySet[Dataset]:
    """Datasets with their image, status and crop counts, for the datasets page and API."""
    return Dataset.objects.annotate(
        image_count=Count("images", distinct=True),
        images_done=Count("images", filter=Q(images__status=SourceImage.Status.DONE), distinct=True),
        images_failed=Count("images", filter=Q(images__status=SourceImage.Status.FAILED), distinct=True),
        crop_count=Count("images__crops", distinct=True),
    ).order_by("name", "version")


def datasets_page(
    *, page: int | str | None = 1, per_page: int = DATASETS_PER_PAGE, jobs_per_dataset: int = RECENT_JOBS_PER_DATASET
) -> Page:
    """One page of datasets for the datasets page, each with its counts and ``recent_jobs``.

    What a hit reads is bounded by the page, never by the collection: the page's datasets,
    then one aggregate over their photos, one over their crops (no join of photos with
    crops: that multiplies rows before counting them) and their newest jobs alone (ranked
    in SQL). A page number past the end is the last page; not a number, the first.
    """
    current = Paginator(Dataset.objects.order_by("name", "version", "pk"), per_page).get_page(page)
    datasets = list(current.object_list)
    ids = [dataset.pk for dataset in datasets]
    images = (
        SourceImage.objects.filter(dataset_id__in=ids)
        .values("dataset_id")
        .annotate(
            image_count=Count("pk"),
            images_done=Count("pk", filter=Q(status=SourceImage.Status.DONE)),
            images_failed=Count("pk", filter=Q(status=SourceImage.Status.FAILED)),
        )
        .order_by()
    )
    image_counts = {row.pop("dataset_id"): row for row in images}
    crops = (
        Crop.objects.filter(image__dataset_id__in=ids).values("image__dataset_id").annotate(n=Count("pk")).order_by()
    )
    crop_counts = {row["image__dataset_id"]: row["n"] for row in crops}
    newest_first = [F("created").desc(), F("pk").desc()]
    jobs = (
        IndexingJob.objects.filter(dataset_id__in=ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("dataset_id")], order_by=newest_first))
        .filter(rank__lte=jobs_per_dataset)
        .order_by("dataset_id", *newest_first)
    )
    by_dataset: dict[int, list[IndexingJob]] = {}
    for job in jobs:
        by_dataset.setdefault(job.dataset_id, []).append(job)
    descriptions = progress_by_dataset(ids)  # crops described so far, the newest description run
    for dataset in datasets:
        counts = image_counts.get(dataset.pk, {"image_count": 0, "images_done": 0, "images_failed": 0})
        for name, value in counts.items():
            setattr(dataset, name, value)
        dataset.crop_count = crop_counts.get(dataset.pk, 0)
        dataset.recent_jobs = by_dataset.get(dataset.pk, [])
        dataset.descriptions = descriptions[dataset.pk]
        # A dataset being deleted (indexing.catalog.deletion): photos gone so far.
        dataset.deleted_images = max(dataset.deletion_total - dataset.image_count, 0)
    current.object_list = datasets
    return current


def source_image(image_id: int) -> SourceImage:
    """The photo a crop was cut from, for the crop page."""
    return SourceImage.objects.get(pk=image_id)


def dataset_by_reference(reference: str) -> Dataset:
    """A dataset named by its id or ``name:version`` (the commands' argument); Dataset.DoesNotExist if none."""
    if reference.isdigit():
        return Dataset.objects.get(pk=int(reference))
    name, _, version = reference.partition(":")
    return Dataset.objects.get(name=name, version=version or "version_1")
