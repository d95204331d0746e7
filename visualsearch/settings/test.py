"""What pytest runs (DJANGO_SETTINGS_MODULE in pyproject.toml): development's settings, plus what only tests need.

Programs the tests start (manage.py, gunicorn, celery workers) inherit this module unless a
test names another or drops DJANGO_SETTINGS_MODULE to get the one a user gets
(tests/visualsearch/test_settings.py does, for production).
"""

from __future__ import annotations

from visualsearch.settings.development import *  # noqa: F403
from visualsearch.settings.development import DATABASES
from visualsearch.settings.environment import env

# A test database name of their own, so two test runs on one server never collide.
if env("DATABASE_TEST_NAME", default=""):
    DATABASES = {"default": {**DATABASES["default"], "TEST": {"NAME": env("DATABASE_TEST_NAME")}}}
