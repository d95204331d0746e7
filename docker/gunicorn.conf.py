"""Gunicorn settings for the web container: `gunicorn -c docker/gunicorn.conf.py visualsearch.wsgi`.

nginx (docker/nginx/) sits in front and buffers whole requests and responses, so a slow
client ties up nginx, not Django. These settings still bound what reaches gunicorn
directly (the healthcheck, a misconfigured proxy, bench/load.py):

- gthread workers: a connection waiting for its request does not hold the whole worker
  (sync workers do: two clients dribbling headers stalled /healthz for 12 s); idle
  keep-alive connections sit in the poller, not in a thread;
- request line and header limits, so a client cannot make a worker parse megabytes of headers;
- worker heartbeats on /dev/shm: a disk-backed tmp stalls workers when the disk is slow.
"""

from __future__ import annotations

import os
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Each worker process loads its own CLIP (~0.6 GB); threads share it.
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
# Requests served at once per worker; the models release the GIL while they compute.
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A request running longer than this gets its worker restarted; the first query in a
# worker loads CLIP (and YOLOv5 for image queries), which takes tens of seconds on a CPU.
timeout = 120
# On a restart or deploy, requests in flight get this long to finish.
graceful_timeout = 30
# Seconds an idle keep-alive connection stays open (nginx reuses its upstream connections).
keepalive = 5
# Bounds on what one request may send before it is refused with 4xx.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# Heartbeat files in memory (Docker's /tmp is the container's disk); elsewhere the default.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None
accesslog = "-"
# X-Forwarded-* are read by Django (SECURE_PROXY_SSL_HEADER, TRUSTED_PROXY_COUNT), which
# knows how many proxies to trust; gunicorn itself trusts no forwarded header.
forwarded_allow_ips = ""
