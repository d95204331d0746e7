"""Search limits, who may read (SEARCH_REQUIRE_AUTH, trusted proxies, login lockout), and the API (DRF, OpenAPI)."""

from __future__ import annotations

from datetime import timedelta

from visualsearch.settings.environment import env

# --- Search -------------------------------------------------------------------
SEARCH_DEFAULT_K = env.int("SEARCH_DEFAULT_K", default=12)
SEARCH_MAX_K = env.int("SEARCH_MAX_K", default=100)
SEARCH_MAX_QUERY_CHARS = env.int("SEARCH_MAX_QUERY_CHARS", default=300)
# Objects searched per query photo, the most confident first (each costs a crop, an
# embedding and a vector search); the answer says how many were left out.
SEARCH_MAX_QUERY_OBJECTS = env.int("SEARCH_MAX_QUERY_OBJECTS", default=10)
# Words an image query may add to an open-vocabulary detector's vocabulary (``words``); each at most 50 characters.
SEARCH_MAX_QUERY_WORDS = env.int("SEARCH_MAX_QUERY_WORDS", default=8)
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
    "ENUM_NAME_OVERRIDES": {"ModelChangeStatusEnum": "indexing.models.ModelChange.Status"},
}

# Text search ranking: off (CLIP similarity alone) or rrf (CLIP and full-text search over the
# descriptions, fused by reciprocal rank: search.query.text.fusion).
SEARCH_TEXT_FUSION = env("SEARCH_TEXT_FUSION", default="off")
# How deep both fused lists go (CLIP's and the descriptions' words): bounded work per request. At 50k
# crops on 2 busy cores, 100 deep took fused text search from 12 to 74 ms p50 (bench/describe.py),
# mostly reading CLIP's 100 rows; 200 deep cost about twice that.
SEARCH_TEXT_FTS_MAX = env.int("SEARCH_TEXT_FTS_MAX", default=100)
