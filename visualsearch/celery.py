"""The Celery app. Broker from ``CELERY_BROKER_URL`` (Redis); eager when unset."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visualsearch.settings")

app = Celery("visualsearch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
