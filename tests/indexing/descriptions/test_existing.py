"""``manage.py describe_crops`` beside the workers: dataset by dataset, each under the lock a queued run takes."""

from __future__ import annotations

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError

from indexing.descriptions import backlog
from indexing.descriptions.existing import describe_existing
from indexing.models import Crop, Dataset, Description, DescriptionRun
from tests import workers
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors

pytestmark = pytest.mark.django_db


def dataset_with_crops(name: str, count: int) -> Dataset:
    dataset = make_dataset(name)
    for i, vector in enumerate(unit_vectors(count, seed=len(name))):
        crop = make_crop(make_image(dataset, seed=i), vector, label="car")
        crop.file.save(f"{name}{i}.png", ContentFile(png_bytes(color=(30 * i % 256, 60, 90))), save=True)
    return dataset


def described(dataset: Dataset) -> int:
    return Description.objects.filter(crop__image__dataset=dataset).count()


def test_a_dataset_a_worker_is_describing_is_skipped_and_named_then_described_next_time(stub_vlm, capsys):
    busy, free = dataset_with_crops("busy", 2), dataset_with_crops("free", 3)
    with psycopg.connect(workers.test_database_url(), autocommit=True) as worker:  # a queued run holds it
        worker.execute("SELECT pg_advisory_lock(%s, %s)", [backlog.LOCK_CLASS, busy.pk])
        call_command("describe_crops")
        captured = capsys.readouterr()
        assert f"Dataset {busy} is being described by a worker's run right now: skipped" in captured.err
        assert (described(busy), described(free)) == (0, 3)
        worker.execute("SELECT pg_advisory_unlock(%s, %s)", [backlog.LOCK_CLASS, busy.pk])
    call_command("describe_crops")
    assert (described(busy), described(free)) == (2, 3)
    assert "Described 2 crop(s)" in capsys.readouterr().out
    assert len(stub_vlm.requests) == 5  # nothing asked twice
    # One record per dataset described (the datasets page shows each one's run); none for nothing to do.
    assert sorted(DescriptionRun.objects.values_list("dataset__name", "described")) == [("busy", 2), ("free", 3)]


def test_the_limit_counts_over_every_dataset_and_the_named_one_alone_is_described(stub_vlm):
    first, second = dataset_with_crops("first", 2), dataset_with_crops("second", 2)
    done = describe_existing(Dataset.objects.all(), limit=3)
    assert done.described == 3 and (described(first), described(second)) == (2, 1)
    call_command("describe_crops", "--dataset", str(first.pk))
    assert described(second) == 1  # another dataset's crops are left alone
    call_command("describe_crops", "--dataset", f"{second.name}:{second.version}")
    assert described(second) == 2 and Crop.objects.count() == Description.objects.count()


def test_a_describer_that_cannot_be_set_up_describes_nothing_and_says_why(settings):
    dataset_with_crops("unset", 1)
    settings.DESCRIPTIONS_BACKEND, settings.DESCRIPTIONS_API_URL = "openai", ""
    with pytest.raises(CommandError, match="No crop described: DESCRIPTIONS_BACKEND=openai needs DESCRIPTIONS_API_URL"):
        call_command("describe_crops")
    assert not DescriptionRun.objects.exists()
