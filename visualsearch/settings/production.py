"""Production: DEBUG off, a strong SECRET_KEY required, WhiteNoise for static files, https only.

What ``visualsearch.settings`` stands for unless DEBUG is true, so a deployment that forgets a
variable gets these choices. Kept together here so deployments are reviewed in one place:
with the values in ``.env.example`` (and a SECRET_KEY filled in) ``manage.py check --deploy``
passes. Production sits behind TLS: a load balancer or reverse proxy.
"""

from __future__ import annotations

from visualsearch.secret_key import check_secret_key
from visualsearch.settings.base import *  # noqa: F403
from visualsearch.settings.base import MIDDLEWARE, STORAGES
from visualsearch.settings.environment import env, fixed_debug

# Never on here: debug pages show settings such as DATABASE_URL.
DEBUG = fixed_debug(__name__, False)
# No default: a missing, known or weak key stops start-up with the fix in one sentence.
SECRET_KEY = env("SECRET_KEY", default="")
check_secret_key(SECRET_KEY)

# Static files are collected into STATIC_ROOT (the image build) and served by WhiteNoise,
# right after SecurityMiddleware as WhiteNoise asks.
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}}
# Serve MEDIA_URL from Django itself only when asked: single-host compose without GCS, where
# media live in a volume. With a bucket, the bucket serves them.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=False)

# Over plain http a session cookie would travel in clear text: secure unless told otherwise
# (only to try the stack over plain http).
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Start small (an hour): browsers remember HSTS for this long, so a mistake is sticky.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=3600)
