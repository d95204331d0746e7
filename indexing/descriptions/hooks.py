"""The pipeline's hook: once a batch's crops are stored, queue their descriptions (DESCRIPTIONS_ENABLED).

The describer runs as a task of its own on the ``gpu`` queue, after the batch commits,
so a slow or dead model never holds a batch, a job or a search. A process that cannot
reach a worker (the command line without a broker) leaves them for ``manage.py describe_crops``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings

from indexing import queue

logger = logging.getLogger(__name__)


def after_batch(image_ids: Sequence[int], crops: int) -> bool:
    """Queue the description of the batch's crops; True when queued. Never raises into indexing."""
    if not settings.DESCRIPTIONS_ENABLED or not crops:
        return False
    try:
        queue.require_workers()
        queue.send_on_commit(queue.DESCRIBE_CROPS, image_ids=list(image_ids))
    except queue.IndexingUnavailable:
        logger.info("No worker to describe %d crops now; run manage.py describe_crops later", crops)
        return False
    except Exception:  # the broker refused: the batch is indexed all the same
        logger.exception("Could not queue descriptions of %d crops; run manage.py describe_crops later", crops)
        return False
    return True
