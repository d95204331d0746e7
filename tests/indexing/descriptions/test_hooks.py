"""The pipeline's hook: descriptions asked for after a batch only when enabled, and never failing the batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from indexing.descriptions import backlog, hooks
from indexing.models import QueuedTask
from tests.factories import make_dataset, make_image

pytestmark = pytest.mark.django_db


def test_nothing_is_asked_when_descriptions_are_off(settings):
    settings.DESCRIPTIONS_ENABLED = False  # the default, and the offline demo's
    image = make_image(make_dataset())
    assert hooks.after_batch([image.pk], crops=3) == ""
    assert not QueuedTask.objects.exists()


def test_a_batch_with_crops_asks_for_a_run_of_its_dataset(settings):
    settings.DESCRIPTIONS_ENABLED = True
    image = make_image(make_dataset())
    assert hooks.after_batch([image.pk], crops=3) == backlog.QUEUED  # sent once the batch commits
    assert QueuedTask.objects.get().target == image.dataset_id
    assert hooks.after_batch([image.pk], crops=0) == ""  # no crops: nothing to describe


def test_no_worker_to_reach_leaves_the_batch_alone(settings):
    settings.DESCRIPTIONS_ENABLED = True
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = ""
    assert hooks.after_batch([make_image(make_dataset()).pk], crops=1) == ""


def test_descriptions_and_the_models_explanations_are_off_unless_asked():
    """The defaults, as `make demo` runs them offline: no description run slows its indexing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESCRIPTIONS_", "EXPLAIN_"))}
    env |= {"DJANGO_SETTINGS_MODULE": "visualsearch.settings", "DEBUG": "true"}
    code = "import django; django.setup(); from django.conf import settings as s; "
    code += "print(s.DESCRIPTIONS_ENABLED, s.EXPLAIN_WITH_VLM)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr
