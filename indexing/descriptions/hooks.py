"""The pipeline's hook: once a batch's crops are stored, ask for a run describing them (DESCRIPTIONS_ENABLED).

The describer runs as a task of its own on the ``gpu`` queue, after the batch commits,
so a slow or dead model never holds a batch, a job or a search. The run is coalesced per
dataset and held back past DESCRIPTIONS_MAX_BACKLOG (indexing.descriptions.backlog). A
process that cannot reach a worker (the command line without a broker) leaves the crops
for ``manage.py describe_crops``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings

from indexing import queue
from indexing.descriptions import backlog
from indexing.models import SourceImage

logger = logging.getLogger(__name__)


def after_batch(image_ids: Sequence[int], crops: int) -> str:
    """Ask for the description of the batch's crops: queued, coalesced, backlog full, or "" (not asked).

    Never raises into indexing.
    """
    if not settings.DESCRIPTIONS_ENABLED or not crops or not image_ids:
        return ""
    try:
        queue.require_workers()
        dataset_id = SourceImage.objects.filter(pk=image_ids[0]).values_list("dataset_id", flat=True).first()
        if dataset_id is None:
            return ""
        return backlog.request_run(dataset_id=dataset_id)
    except queue.IndexingUnavailable:
        logger.info("No worker to describe %d crops now; run manage.py describe_crops later", crops)
        return ""
    except Exception:  # the broker refused: the batch is indexed all the same
        logger.exception("Could not queue descriptions of %d crops; run manage.py describe_crops later", crops)
        return ""
