"""Static files, media, FAISS index files and upload limits (the parts DEBUG changes are in development/production)."""

from __future__ import annotations

from pathlib import Path

from visualsearch.settings.environment import BASE_DIR, VAR_DIR, env

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))

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
# "staticfiles" is added by development.py (runserver's) and production.py (WhiteNoise's).
STORAGES = {"default": media_storage, "indexes": index_storage}

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
