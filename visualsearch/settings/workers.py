"""Celery: the broker that reaches the workers, queues, and redelivery of a dead worker's task."""

from __future__ import annotations

from visualsearch.settings.environment import env

# Indexing queued by the admin and the API runs on workers reached through this broker.
# Without one (and without eager mode) those requests are refused with the reason;
# embed_and_index and search need no broker.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
# Run tasks inside the process that queues them: a whole indexing job inside one web
# request. Only when asked for (manage.py demo asks when no broker is set; the tests do).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"indexing.tasks.*": {"queue": "gpu"}}
CELERY_BROKER_CONNECTION_TIMEOUT = 5
# A task whose worker died unacknowledged is delivered again after this many seconds (Redis).
# Keep it above the longest batch: a live task is never redelivered before it finishes.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
