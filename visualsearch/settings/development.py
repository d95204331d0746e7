"""Development: what ``DEBUG=true manage.py ...``, ``make demo`` and the tests run.

DEBUG on, a known secret key allowed, static files and media served by Django, cookies
over plain http. Each of these is still read from the environment, with a development default.
"""

from __future__ import annotations

from visualsearch.settings.base import *  # noqa: F403
from visualsearch.settings.base import STORAGES
from visualsearch.settings.environment import env, fixed_debug

DEBUG = fixed_debug(__name__, True)
# Development only: production refuses this key (and any other known or weak one).
DEV_SECRET_KEY = "insecure-dev-key-change-me"
SECRET_KEY = env("SECRET_KEY", default=DEV_SECRET_KEY)

# runserver serves static files from the app folders; nothing is collected.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# Serve MEDIA_URL from Django itself: local storage without a separate file server.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)

# Plain http on this machine: secure cookies would never be sent back, and HSTS would
# stick to localhost in the browser.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
