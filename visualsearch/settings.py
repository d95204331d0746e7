"""VisualSearch settings, read from the environment (and ``.env`` when present).

Every setting a user may change is read here, with its default; ``.env.example``
lists them with a comment each.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ

from visualsearch.database import database_settings
from visualsearch.secret_key import check_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

# Local state (embedded database, media, model cache, MLflow store) lives here.
VAR_DIR = Path(env("VISUALSEARCH_VAR_DIR", default=str(BASE_DIR / "var")))
# Offline assets (COCO128, yolov5n.pt) shipped beside the repository.
SHARED_ASSETS_DIR = Path(env("SHARED_ASSETS_DIR", default=str(BASE_DIR.parent / "shared" / "assets")))

# --- Core ---------------------------------------------------------------------
# Off unless asked for: a deployment that forgets DEBUG must not serve debug pages (they
# show settings such as DATABASE_URL). `make demo`, manage.py demo and the tests turn it on.
DEBUG = env.bool("DEBUG", default=False)
# Development only: any key is refused with DEBUG off unless it is set and not a known one.
DEV_SECRET_KEY = "insecure-dev-key-change-me"
SECRET_KEY = env("SECRET_KEY", default=DEV_SECRET_KEY if DEBUG else "")
if not DEBUG:
    check_secret_key(SECRET_KEY)
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

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Every query of a request limited to WEB_STATEMENT_TIMEOUT_MS; past it, a 503 that says so.
    "visualsearch.middleware.StatementTimeoutMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
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

if not DEBUG:
    # Static files are collected into STATIC_ROOT and served by WhiteNoise in production;
    # in development runserver serves them from the app folders.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

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
# Tests only: a test database name of their own, so two test runs on one server never collide.
if env("DATABASE_TEST_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env("DATABASE_TEST_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Longest a web request's query may run (PostgreSQL statement_timeout, in ms; 0: no limit);
# past it the request answers 503. Celery tasks, migrations and commands are not limited.
WEB_STATEMENT_TIMEOUT_MS = env.int("WEB_STATEMENT_TIMEOUT_MS", default=30_000)

# django-axes first: a locked-out client is refused before its password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media files -----------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Serve MEDIA_URL from Django itself: local storage without a separate file server
# (development; single-host compose without GCS, where media live in a volume).
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG)

GS_BUCKET_NAME = env("GS_BUCKET_NAME", default="")
if GS_BUCKET_NAME:
    GS_PROJECT_ID = env("GS_PROJECT_ID", default=None)
    GS_DEFAULT_ACL = env("GS_DEFAULT_ACL", default=None)
    GS_QUERYSTRING_AUTH = env.bool("GS_QUERYSTRING_AUTH", default=True)
    media_storage = {
        "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
        "OPTIONS": {"bucket_name": GS_BUCKET_NAME},
    }
else:
    media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}

# FAISS index files: never in public media (they hold every crop's embedding). Locally a
# folder outside MEDIA_ROOT; with a bucket, a private prefix whose objects get no public ACL
# (or a private bucket of their own, needed when the media bucket is public bucket-wide).
INDEX_ROOT = Path(env("INDEX_ROOT", default=str(VAR_DIR / "indexes")))
if GS_BUCKET_NAME:
    index_storage = {
        "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
        "OPTIONS": {
            "bucket_name": env("GS_INDEX_BUCKET_NAME", default=GS_BUCKET_NAME),
            "location": "private",
            # Objects ACLs exist only when the bucket uses them (GS_DEFAULT_ACL set); keep ours private.
            "default_acl": "projectPrivate" if GS_DEFAULT_ACL else None,
            "querystring_auth": True,
        },
    }
else:
    index_storage = {"BACKEND": "visualsearch.storage.IndexFileStorage"}
STORAGES = {
    "default": media_storage,
    "indexes": index_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploads: a photo larger than this is refused, by its Content-Length before it is read,
# else as soon as it passes the limit (search/uploads.py).
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "search.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Larger uploads go to a temporary file rather than memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Everything but files (form fields, JSON bodies), on every URL: a parsed body costs ~20
# times its size in objects. The admin's largest form (200 selected crops) is ~6 KB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_FORM_BYTES", default=1024 * 1024)
# A search's body without its photo (a text search's JSON or form): a few hundred bytes in use;
# larger ones are refused (413) by their Content-Length before they are read (search/uploads.py).
SEARCH_MAX_BODY_BYTES = env.int("SEARCH_MAX_BODY_BYTES", default=16 * 1024)
# Fields per request (query string or form): the search forms send ~15; the admin's crop
# list posts one per selected row (up to 200 with "show all").
DATA_UPLOAD_MAX_NUMBER_FIELDS = 500
# Decoded images above this many pixels are refused (decompression bombs).
MAX_IMAGE_PIXELS = env.int("MAX_IMAGE_PIXELS", default=40_000_000)

# --- Celery -------------------------------------------------------------------
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

# --- Models -------------------------------------------------------------------
# "auto" picks cuda when torch sees a GPU, else cpu.
MODEL_DEVICE = env("MODEL_DEVICE", default="auto")
MODEL_CACHE_DIR = Path(env("MODEL_CACHE_DIR", default=str(VAR_DIR / "models")))
# Before a model or dataset download, one connection to its host is tried with this timeout
# (seconds); an unreachable source fails at once with the settings that avoid the download.
DOWNLOAD_CHECK_TIMEOUT = env.float("DOWNLOAD_CHECK_TIMEOUT", default=3.0)
# How long that answer is remembered, so requests in a process without its models fail fast.
DOWNLOAD_CHECK_CACHE_SECONDS = env.float("DOWNLOAD_CHECK_CACHE_SECONDS", default=60.0)

# The product's classes, matched by name against the detector's class names.
DETECTOR_CLASSES = env.list(
    "DETECTOR_CLASSES",
    default=["person", "car", "cell phone", "laptop", "book", "handbag", "sports ball"],
)
# A local .pt path, an official checkpoint name (yolov5n/s/m/l/x.pt, downloaded once from the
# YOLOv5 v7.0 release), or an MLflow URI (runs:/<run_id>/weights/best.pt, models:/<name>/<version>,
# models:/<name>@<alias>); MLFLOW_RUN_ID overrides a value that is not an MLflow URI.
DETECTOR_WEIGHTS = env("DETECTOR_WEIGHTS", default="yolov5s.pt")
# Expected sha256 of the weights; empty = a SHA256SUMS file beside them, the official list or an MLflow run's record.
DETECTOR_WEIGHTS_SHA256 = env("DETECTOR_WEIGHTS_SHA256", default="")
# Weights whose sha256 matches nothing known (DETECTOR_WEIGHTS_SHA256, a SHA256SUMS file beside
# them, an official YOLOv5 release asset, an MLflow run's record) are refused: unpickling runs any
# code inside. True loads them anyway, with a warning (your own checkpoints; better: pin them).
DETECTOR_ALLOW_UNVERIFIED_WEIGHTS = env.bool("DETECTOR_ALLOW_UNVERIFIED_WEIGHTS", default=False)
DETECTOR_CONFIDENCE = env.float("DETECTOR_CONFIDENCE", default=0.25)
DETECTOR_IOU = env.float("DETECTOR_IOU", default=0.45)
DETECTOR_IMAGE_SIZE = env.int("DETECTOR_IMAGE_SIZE", default=640)
DETECTOR_MAX_DETECTIONS = env.int("DETECTOR_MAX_DETECTIONS", default=100)
DETECTOR_BATCH_SIZE = env.int("DETECTOR_BATCH_SIZE", default=8)

# Crop policy (see indexing/vision/crops.py).
CROP_PADDING = env.float("CROP_PADDING", default=0.1)
CROP_MIN_SIDE = env.int("CROP_MIN_SIDE", default=32)
CROP_MAX_ASPECT = env.float("CROP_MAX_ASPECT", default=4.0)
CROP_MIN_AREA_FRACTION = env.float("CROP_MIN_AREA_FRACTION", default=0.001)

# CLIP: a hub id or a local directory written by save_pretrained.
CLIP_MODEL = env("CLIP_MODEL", default="openai/clip-vit-base-patch32")
CLIP_BATCH_SIZE = env.int("CLIP_BATCH_SIZE", default=32)
EMBEDDING_DIM = 512

# --- Indexing -----------------------------------------------------------------
# Images per Celery task / per CLI step (detector and embedder batch inside it).
INDEXING_BATCH_SIZE = env.int("INDEXING_BATCH_SIZE", default=16)
# A queued or running job with no batch finished for this long is marked stale (its worker or
# command died) and can be resumed (manage.py recover_jobs). Above the visibility timeout by
# default, so Celery's own redelivery of a dead worker's batch comes first.
INDEXING_JOB_STALE_SECONDS = env.int(
    "INDEXING_JOB_STALE_SECONDS", default=CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] + 600
)
# Model changes (indexing/model_changes/): crops re-embedded, or photos detected
# again, per transaction; progress and resume points commit with each batch.
MODEL_CHANGE_BATCH_SIZE = env.int("MODEL_CHANGE_BATCH_SIZE", default=256)
REDETECT_BATCH_SIZE = env.int("REDETECT_BATCH_SIZE", default=16)
# Dataset deletion (indexing/catalog/deletion.py): photos deleted per transaction, with their files;
# datasets with more photos than DATASET_DELETE_INLINE_MAX are deleted by a Celery job.
DATASET_DELETE_BATCH_SIZE = env.int("DATASET_DELETE_BATCH_SIZE", default=200)
DATASET_DELETE_INLINE_MAX = env.int("DATASET_DELETE_INLINE_MAX", default=100)

# --- Duplicates (indexing/duplicates/; defaults chosen by bench/dedup.py, docs/near-duplicates.md) ------------
# Most bits two photos' 64-bit pHashes may differ by (any orientation, borders trimmed) and still be
# perceptual duplicates: 8 keeps precision 1.000 on the bench's tune half; 12 lets unrelated photos in.
DEDUP_PHASH_MAX_DISTANCE = env.int("DEDUP_PHASH_MAX_DISTANCE", default=8)
# Least cosine of two photos' vectors (the mean of their crops' CLIP vectors) for a semantic duplicate.
# Not measured offline (no real CLIP here); above 1 turns the tier off.
DEDUP_SEMANTIC_MIN_SCORE = env.float("DEDUP_SEMANTIC_MIN_SCORE", default=0.97)
# Least cosine of two crops for "the same object elsewhere" on a crop's page.
DEDUP_OBJECT_MIN_SCORE = env.float("DEDUP_OBJECT_MIN_SCORE", default=0.92)
# A new photo that duplicates a stored one: keep (index, no group), link (index, group it), skip (group, no index).
DEDUP_ON_INGEST = env("DEDUP_ON_INGEST", default="link")
# Perceptual lookups (indexing/duplicates/multi_index.py): hash chunks probed this many bits away (0 or 1).
# 0 reads ~10x fewer rows; what it misses beyond 3 bits the verification tier finds (bench/dedup.py).
DEDUP_PHASH_PROBE_RADIUS = env.int("DEDUP_PHASH_PROBE_RADIUS", default=0)
# The verification tier (indexing/duplicates/verification.py), for photos the hash tiers found nothing for:
# ORB + RANSAC calls per photo at most (0 turns it off), least inliers for a verified match, and the
# colour-descriptor cosine distance beyond which no candidate is shortlisted (1.0: none left out).
DEDUP_VERIFY_MAX_CALLS = env.int("DEDUP_VERIFY_MAX_CALLS", default=4)
DEDUP_VERIFY_MIN_INLIERS = env.int("DEDUP_VERIFY_MIN_INLIERS", default=20)
DEDUP_VERIFY_MAX_DESCRIPTOR_DISTANCE = env.float("DEDUP_VERIFY_MAX_DESCRIPTOR_DISTANCE", default=1.0)

# --- ANN index (FAISS) -----------------------------------------------------------
# "auto" picks the fastest configuration measured by bench/ann.py (indexing/ann/ann_table.json)
# that meets the two targets below; or a FAISS factory string: Flat, HNSW32, IVF4096,SQ8.
ANN_INDEX_KIND = env("ANN_INDEX_KIND", default="auto")
# recall@10 against exact search that "auto" must reach (on in-distribution queries).
ANN_RECALL_TARGET = env.float("ANN_RECALL_TARGET", default=0.95)
# Most memory one index may take, in bytes or with a unit ("8GB", "512MiB"); like autofaiss's
# max_index_memory_usage. Every searching process loads its own copy.
ANN_MAX_INDEX_MEMORY = env("ANN_MAX_INDEX_MEMORY", default="8GB")
# Search knobs for a forced ANN_INDEX_KIND (auto chooses its own with the index type).
ANN_HNSW_EF_SEARCH = env.int("ANN_HNSW_EF_SEARCH", default=128)
ANN_IVF_NPROBE = env.int("ANN_IVF_NPROBE", default=32)
ANN_REFINE_K_FACTOR = env.int("ANN_REFINE_K_FACTOR", default=4)
# Every build measures recall@10 on its own vectors (ANN_RECALL_SAMPLE queries: half held-out stored
# vectors, half near-copies) and raises its search knobs until ANN_RECALL_TARGET is met (indexing.ann.recall.measure).
ANN_RECALL_SAMPLE = env.int("ANN_RECALL_SAMPLE", default=400)
# A kind whose p95 single-query latency passes this before reaching the target gives way to the next kind.
ANN_RECALL_MAX_P95_MS = env.float("ANN_RECALL_MAX_P95_MS", default=10.0)
# Kinds a full build tries, in the table's order, before serving the best it found.
ANN_RECALL_MAX_KINDS = env.int("ANN_RECALL_MAX_KINDS", default=3)
# Tuning a kind's knobs stops once it has taken this share of that kind's build time (10 s at least).
ANN_RECALL_MAX_SHARE = env.float("ANN_RECALL_MAX_SHARE", default=0.5)
# Index updates measure their recall again once this many vectors were added since the last measurement.
ANN_RECALL_RECHECK_EVERY = env.int("ANN_RECALL_RECHECK_EVERY", default=100_000)
# Approximate builds of fewer vectors than this are not sampled (too few to hold any out).
ANN_RECALL_MIN_SIZE = env.int("ANN_RECALL_MIN_SIZE", default=1000)
# FAISS threads per search call (builds use all cores).
ANN_SEARCH_THREADS = env.int("ANN_SEARCH_THREADS", default=1)
# Build indexes on GPU when faiss-gpu is installed (embed_and_index --faiss-gpu asks for one build).
ANN_USE_GPU = env.bool("ANN_USE_GPU", default=False)
# How many ready index builds to keep (older files are deleted).
ANN_KEEP_BUILDS = env.int("ANN_KEEP_BUILDS", default=3)
# Index updates add new crops to the served index; a full build (retraining IVF/PQ) runs when the
# vectors added since the last training pass this share of the index...
ANN_RETRAIN_SHARE = env.float("ANN_RETRAIN_SHARE", default=0.5)
# ...or when hidden and deleted crops (filtered at query time until then) pass this share.
ANN_COMPACT_SHARE = env.float("ANN_COMPACT_SHARE", default=0.2)
# During a long job, update the index whenever this many crops wait outside it: they are ranked in SQL
# meanwhile, which costs a query about 40 ms per 10k at 1M crops (bench/search.py).
ANN_UPDATE_EVERY = env.int("ANN_UPDATE_EVERY", default=10_000)
# Each host's copies of index files from remote storage (memory-mapped by its web processes).
INDEX_CACHE_DIR = Path(env("INDEX_CACHE_DIR", default=str(VAR_DIR / "index-cache")))
# Builds' copies a host keeps there (the newest; older ones are deleted after each download).
INDEX_CACHE_KEEP = env.int("INDEX_CACHE_KEEP", default=3)

# --- Search -------------------------------------------------------------------
SEARCH_DEFAULT_K = env.int("SEARCH_DEFAULT_K", default=12)
SEARCH_MAX_K = env.int("SEARCH_MAX_K", default=100)
SEARCH_MAX_QUERY_CHARS = env.int("SEARCH_MAX_QUERY_CHARS", default=300)
# Objects searched per query photo, the most confident first (each costs a crop, an
# embedding and a vector search); the answer says how many were left out.
SEARCH_MAX_QUERY_OBJECTS = env.int("SEARCH_MAX_QUERY_OBJECTS", default=10)
# A label filter matching at most this many indexed crops is searched exactly (their vectors cached
# per process: 2 KB a crop) instead of through the ANN index, which rarely holds a rare label's neighbours.
SEARCH_FILTER_EXACT_MAX = env.int("SEARCH_FILTER_EXACT_MAX", default=20_000)
SEARCH_FILTER_CACHE = env.int("SEARCH_FILTER_CACHE", default=4)
# Paging: how deep offset + k may reach (each page re-runs the search to that depth).
SEARCH_MAX_DEPTH = env.int("SEARCH_MAX_DEPTH", default=1000)
# Photo queries ("photos holding objects like each of these"): best crops fetched per
# query object before grouping them by photo; a photo outside them has no match for it.
SEARCH_PHOTO_CANDIDATES = env.int("SEARCH_PHOTO_CANDIDATES", default=300)
# How often a web/API process looks for a newer FAISS build to swap in.
SEARCH_INDEX_CHECK_SECONDS = env.float("SEARCH_INDEX_CHECK_SECONDS", default=10.0)
# Bounded read paths (search.query.budget): index ids one request may check against PostgreSQL (shared by
# its query objects), and FAISS rounds one query may widen through; an answer cut short says so.
SEARCH_MAX_CANDIDATES = env.int("SEARCH_MAX_CANDIDATES", default=50_000)
SEARCH_MAX_ROUNDS = env.int("SEARCH_MAX_ROUNDS", default=4)
# The exact-filter cache (search.query.filtered) is bounded by bytes too: its vectors, in MB, per process.
SEARCH_FILTER_CACHE_MB = env.int("SEARCH_FILTER_CACHE_MB", default=160)
# Builds of other CLIP versions than the served one a process may hold besides it ("more like this"
# on a crop of an older model); the served build is never evicted for one of them.
SEARCH_INDEX_OTHER_VERSIONS = env.int("SEARCH_INDEX_OTHER_VERSIONS", default=1)
# A newer build is loaded and checked in a background thread while requests keep the old one.
SEARCH_INDEX_LOAD_IN_BACKGROUND = env.bool("SEARCH_INDEX_LOAD_IN_BACKGROUND", default=True)
# Require a logged-in user (or token) for every read path: pages, API, media (visualsearch/access.py).
# Writes always need the model permission (indexing.change_crop, indexing.index_dataset).
SEARCH_REQUIRE_AUTH = env.bool("SEARCH_REQUIRE_AUTH", default=False)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "search:home"
LOGOUT_REDIRECT_URL = "search:home"
# Search requests per client, pages and API together (search/throttle.py).
SEARCH_THROTTLE_RATE = env("SEARCH_THROTTLE_RATE", default="120/min")
# Proxies of ours in front of Django that append to X-Forwarded-For (nginx in compose: 1).
# 0: the client is REMOTE_ADDR, the header is ignored (anyone can write it).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Login lockout (django-axes), for /accounts/login/ and the admin's login: after this many failed
# logins from one client (the address visualsearch.access.client_ip reads, behind TRUSTED_PROXY_COUNT
# proxies) every login from it, even with the right password, answers 429 for LOGIN_LOCKOUT_SECONDS.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_LOCKOUT_SECONDS", default=900))
AXES_CLIENT_IP_CALLABLE = "visualsearch.access.client_ip"
# By address, not by user name: locking a name would let anyone lock the admin out.
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
# 429 with Retry-After and the wait in words (visualsearch/logins.py).
AXES_LOCKOUT_CALLABLE = "visualsearch.logins.locked_out"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Only for DRF's own throttles, should one be added: ours identify clients in visualsearch/access.py.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "EXCEPTION_HANDLER": "search.api.base.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "VisualSearch API",
    "DESCRIPTION": "Find objects in photos and photos of similar objects.",
    "VERSION": "0.1.0",
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and docs follow SEARCH_REQUIRE_AUTH like every other read path.
    "SERVE_PERMISSIONS": ["search.api.base.SearchPermission"],
    # Swagger UI and ReDoc from the app's own static files (drf-spectacular-sidecar): no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Jobs and model changes both have a "status": each its own enum in the schema.
    "ENUM_NAME_OVERRIDES": {"ModelChangeStatusEnum": "indexing.models.model_changes.ModelChange.Status"},
}

# --- MLflow -------------------------------------------------------------------
MLFLOW_TRACKING_URI = env("MLFLOW_TRACKING_URI", default="")
MLFLOW_EXPERIMENT_ID = env("MLFLOW_EXPERIMENT_ID", default="")
MLFLOW_RUN_ID = env("MLFLOW_RUN_ID", default="")

# --- Datasets -------------------------------------------------------------------
# Hosts a COCO annotations file's coco_url may download images from, over https only
# (images.cocodataset.org is fetched through its bucket's https address; see indexing/catalog/sources.py).
COCO_IMAGE_HOSTS = env.list("COCO_IMAGE_HOSTS", default=["images.cocodataset.org"])

# --- Demo -------------------------------------------------------------------
DEMO_ADMIN_USERNAME = env("DEMO_ADMIN_USERNAME", default="admin")
# Empty: a random password is generated once and kept in var/demo-admin-password.
DEMO_ADMIN_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="")
# The sample to index: a folder of photos, or a COCO instances json (+ its images folder).
# When the annotations file is missing and DEMO_DOWNLOAD is on, COCO val2017's are fetched.
DEMO_IMAGES = env("DEMO_IMAGES", default="")
DEMO_COCO_ANNOTATIONS = env(
    "DEMO_COCO_ANNOTATIONS", default=str(SHARED_ASSETS_DIR / "coco128" / "annotations" / "instances_train2017.json")
)
DEMO_COCO_IMAGES = env("DEMO_COCO_IMAGES", default="")
DEMO_MAX_IMAGES = env.int("DEMO_MAX_IMAGES", default=128)
# Fetch COCO val2017 annotations and the chosen images when they are not on disk (needs internet).
DEMO_DOWNLOAD = env.bool("DEMO_DOWNLOAD", default=True)
# Offline: write and use a small random CLIP instead of downloading CLIP_MODEL.
DEMO_TEST_CLIP = env.bool("DEMO_TEST_CLIP", default=False)
# The demo serves through gunicorn (docker/gunicorn.conf.py): worker processes x threads each.
# Each worker loads its own CLIP and YOLOv5 on its first query.
DEMO_WEB_WORKERS = env.int("DEMO_WEB_WORKERS", default=2)
DEMO_WEB_THREADS = env.int("DEMO_WEB_THREADS", default=4)

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

# ==============================================================================
# --- Production / security ---------------------------------------------------
# Kept together here so deployments are reviewed in one place. Everything below is
# inert in the local demo (DEBUG on); with DEBUG=false (as .env.example and
# docker-compose.yml set it) `manage.py check --deploy` passes with the values in
# .env.example. Production sits behind TLS: a load balancer or reverse proxy.
# ==============================================================================
# Origins (scheme://host) allowed to POST forms, e.g. https://search.example.com.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Over plain http a session cookie would travel in clear text: secure once DEBUG is off.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers and the compose healthcheck probe /healthz over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Start small (an hour): browsers remember HSTS for this long, so a mistake is sticky.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 3600)
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

# A shared cache (Redis) so DRF throttling counts requests across all gunicorn
# workers and hosts; a per-process LocMem cache otherwise.
CACHE_URL = env("CACHE_URL", default="")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# "json": one JSON object per log line, for log collectors; "plain" for people.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
if LOG_FORMAT == "json":
    LOGGING["formatters"]["json"] = {"()": "visualsearch.logging.JsonFormatter"}
    LOGGING["handlers"]["console"]["formatter"] = "json"
