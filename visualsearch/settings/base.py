"""Settings every environment shares: Django itself, the database, logins, caches, logging, security.

The project's own settings come from one module per concern, imported here: ``storage`` (static
files, media, index files, uploads), ``workers`` (Celery), ``vision`` (detector, crops, CLIP,
MLflow), ``indexing`` (jobs, duplicates, the ANN index, datasets), ``search`` (search, access,
the API) and ``demo``. What DEBUG changes lives in ``development`` and ``production``.
"""

from __future__ import annotations

from visualsearch.database import database_settings
from visualsearch.settings.demo import *  # noqa: F403
from visualsearch.settings.environment import BASE_DIR, SHARED_ASSETS_DIR, VAR_DIR, env  # noqa: F401 - settings
from visualsearch.settings.indexing import *  # noqa: F403
from visualsearch.settings.search import *  # noqa: F403
from visualsearch.settings.storage import *  # noqa: F403
from visualsearch.settings.vision import *  # noqa: F403
from visualsearch.settings.workers import *  # noqa: F403

# --- Core ---------------------------------------------------------------------
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc files, served by the app (offline docs)
    "axes",  # login lockout (LOGIN_FAILURE_LIMIT), site and admin login alike
    "visualsearch",  # site-wide management commands (demo, embedded_db)
    "indexing",
    "search",
    "mlops",
]

# Production inserts WhiteNoise second (production.py).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Every query of a request limited to WEB_STATEMENT_TIMEOUT_MS; past it, a 503 that says so.
    "visualsearch.middleware.StatementTimeoutMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before anything that writes text a reader sees (Django's place for it).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # SEARCH_REQUIRE_AUTH for pages and media (DRF views check it themselves, tokens included).
    "visualsearch.access.RequireLoginMiddleware",
    # Bodies over the upload limits refused unread; form errors answered as JSON / the page (search/uploads.py).
    "search.uploads.UploadLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Models that cannot be loaded: a 503 with the reason, for pages and the API alike.
    "visualsearch.middleware.ModelUnavailableMiddleware",
    # Last, as django-axes asks: a locked-out login answers 429 (LOGIN_FAILURE_LIMIT).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "visualsearch.urls"
WSGI_APPLICATION = "visualsearch.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL + pgvector, always ----------------------------------
DATABASE_URL = env("DATABASE_URL", default="")
# Without DATABASE_URL the project runs its own PostgreSQL + pgvector under var/pgdata.
EMBEDDED_DATABASE_DIR = VAR_DIR / "pgdata" if not DATABASE_URL else None
# Connects to nothing: the backend starts the embedded server and checks the database on
# the first connection, so commands without one (collectstatic in the image build) need none.
DATABASES = {"default": database_settings(DATABASE_URL, VAR_DIR / "pgdata")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Longest a web request's query may run (PostgreSQL statement_timeout, in ms; 0: no limit);
# past it the request answers 503. Celery tasks, migrations and commands are not limited.
WEB_STATEMENT_TIMEOUT_MS = env.int("WEB_STATEMENT_TIMEOUT_MS", default=30_000)

# --- Users --------------------------------------------------------------------
# django-axes first: a locked-out client is refused before its password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The site speaks English (the default) and Korean: LocaleMiddleware picks one per request from the
# language switch's cookie, else Accept-Language. Catalogs: locale/<lang>/LC_MESSAGES/django.po (+ .mo).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Cache --------------------------------------------------------------------
# A shared cache (Redis) so DRF throttling counts requests across all gunicorn
# workers and hosts; a per-process LocMem cache otherwise.
CACHE_URL = env("CACHE_URL", default="")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- Logging ------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"pgserver": {"level": "WARNING"}, "faiss.loader": {"level": "WARNING"}},
}
# "json": one JSON object per log line, for log collectors; "plain" for people.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
if LOG_FORMAT == "json":
    LOGGING["formatters"]["json"] = {"()": "visualsearch.logging.JsonFormatter"}
    LOGGING["handlers"]["console"]["formatter"] = "json"

# --- Security (both environments; production.py turns https on) ---------------
# Origins (scheme://host) allowed to POST forms, e.g. https://search.example.com.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Load balancers and the compose healthcheck probe /healthz over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Subdomains and preloading commit every site on the domain to https, for months: opt-in
# choices for the owner, so `check --deploy` does not warn while they are off.
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]
# Behind a proxy that terminates TLS, trust its X-Forwarded-Proto; never without one,
# since a client could then claim https itself.
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
