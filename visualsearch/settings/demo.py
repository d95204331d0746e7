"""manage.py demo: its admin, the sample it indexes, and its gunicorn."""

from __future__ import annotations

from visualsearch.settings.environment import SHARED_ASSETS_DIR, env

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
