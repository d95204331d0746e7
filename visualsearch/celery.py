"""The Celery app. Broker from ``CELERY_BROKER_URL`` (Redis); tasks run eagerly only with CELERY_TASK_ALWAYS_EAGER."""

import os
from logging.config import dictConfig

from celery import Celery
from celery.signals import setup_logging

# Unless named: development when DEBUG is true, else production (visualsearch/settings/__init__.py).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visualsearch.settings")

app = Celery("visualsearch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """Workers log through Django's LOGGING (one JSON object a line with LOG_FORMAT=json).

    A receiver on this signal stops Celery from replacing the root logger's handlers
    with its own plain-text format.
    """
    from django.conf import settings

    dictConfig(settings.LOGGING)
