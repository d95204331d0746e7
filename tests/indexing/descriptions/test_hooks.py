"""The pipeline's hook: descriptions queued after a batch only when enabled, and never failing the batch."""

from __future__ import annotations

from indexing import queue
from indexing.descriptions import hooks


def test_nothing_is_queued_when_descriptions_are_off(settings, monkeypatch):
    settings.DESCRIPTIONS_ENABLED = False
    sent = []
    monkeypatch.setattr(queue, "send_on_commit", lambda *a, **k: sent.append(a))
    assert hooks.after_batch([1, 2], crops=3) is False
    assert sent == []


def test_a_batch_with_crops_queues_their_description_by_name(settings, monkeypatch):
    settings.DESCRIPTIONS_ENABLED = True
    sent = []
    monkeypatch.setattr(queue, "send_on_commit", lambda *a, **k: sent.append((a, k)))
    assert hooks.after_batch([1, 2], crops=3) is True
    assert sent == [((queue.DESCRIBE_CROPS,), {"image_ids": [1, 2]})]
    assert hooks.after_batch([3], crops=0) is False  # no crops: nothing to describe


def test_no_worker_to_reach_leaves_the_batch_alone(settings):
    settings.DESCRIPTIONS_ENABLED = True
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = ""
    assert hooks.after_batch([1], crops=1) is False
