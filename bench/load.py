"""Concurrent searches against the production serving setup, with and without slow clients.

On loopback only, in a throw-away var folder (its own embedded PostgreSQL, media and
index): a small COCO128 sample is indexed with yolov5n and a test CLIP, then the site is
served as in production (gunicorn with docker/gunicorn.conf.py, DEBUG unset, a random
SECRET_KEY, BEHIND_PROXY with X-Forwarded-Proto https, Redis as the shared throttle
cache with SEARCH_THROTTLE_RATE raised) and loaded:

1. --requests text searches from --clients threads at once: errors, p50/p95 latency;
2. the same while --slow-clients connections hold partial headers, with /healthz probed
   throughout: failed searches and /healthz latency;
3. a mixed load (--mixed-requests): text searches, photo searches (the API, multipart),
   crop pages ("more like this") and the datasets page, interleaved, with a row per kind.

Both run against gunicorn directly and, when nginx is installed, through nginx
(docker/nginx) as compose serves it, playing the TLS-terminating load balancer in front
(NGINX_TRUST_FORWARDED_PROTO). Every request has a timeout, every row stops sending
after --max-seconds, requests only ever go to 127.0.0.1, and everything it started is
stopped at the end.

    .venv/bin/python bench/load.py [--requests 1000] [--clients 200] [--slow-clients 12] [--clip base|tiny]
    .venv/bin/python bench/load.py --mixed-only --mixed-requests 200 --clients 8 --clip tiny   # brief
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lib.load_http import BOUNDARY, REQUEST_TIMEOUT_S, call, photo_body, probe_healthz, report, search, wait_until_idle
from lib.setup import ROOT, percentiles_ms

sys.path.insert(0, str(ROOT))
from tests.deploy.servers import gunicorn, nginx, slow_clients, stop_embedded_db

# The mixed load, in this proportion: what a page of searches and browsing looks like.
MIX = ["text"] * 4 + ["image"] + ["crop"] * 3 + ["datasets"] * 2
# COCO ids of person, car, handbag, sports ball, laptop, cell phone, book (COCO128's labels).
PRODUCT_CLASS_IDS = {0, 2, 26, 32, 63, 67, 73}
SHARED_ASSETS = Path(os.environ.get("SHARED_ASSETS_DIR", ROOT.parent / "shared" / "assets"))


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=1800)


def product_photos(count: int) -> list[Path]:
    """The first COCO128 photos whose labels hold one of the product's classes (so there are crops)."""
    coco128 = SHARED_ASSETS / "coco128"
    chosen = []
    for labels in sorted((coco128 / "labels" / "train2017").glob("*.txt")):
        if {int(line.split()[0]) for line in labels.read_text().splitlines() if line.strip()} & PRODUCT_CLASS_IDS:
            chosen.append(coco128 / "images" / "train2017" / f"{labels.stem}.jpg")
        if len(chosen) == count:
            break
    return chosen


def prepare(work: Path, args: argparse.Namespace) -> dict[str, str]:
    """Index a COCO128 sample in a fresh var folder; returns the environment both server and tools share."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_BROKER", "DJANGO_"))}
    env = {
        **base,
        "VISUALSEARCH_VAR_DIR": str(work / "var"),
        "DETECTOR_WEIGHTS": str(SHARED_ASSETS / "weights" / "yolov5n.pt"),
        "CLIP_MODEL": str(work / "clip"),
        "CACHE_URL": args.cache_url,
        "SEARCH_THROTTLE_RATE": "1000000/min",
        "LOG_FORMAT": "plain",
        "LOG_LEVEL": "WARNING",
    }
    tools = {**env, "DEBUG": "true"}
    photos = work / "photos"
    photos.mkdir()
    for path in product_photos(args.images):
        shutil.copy(path, photos / path.name)
    started = time.perf_counter()
    manage(tools, "migrate", "--noinput", "-v0")
    manage(tools, "make_test_clip", str(work / "clip"), "--size", args.clip, "-v0")
    manage(tools, "embed_and_index", "--dataset-path", str(photos))
    print(f"prepared {args.images} photos in {time.perf_counter() - started:.0f} s (CLIP {args.clip})")
    production = {k: v for k, v in env.items() if k not in ("DEBUG", "GUNICORN_THREADS", "GUNICORN_WORKERS")}
    return {**production, "SECRET_KEY": secrets.token_urlsafe(50), "BEHIND_PROXY": "true"}


def load(
    url: str, requests: int, clients: int, max_seconds: float = float("inf")
) -> tuple[list[float], Counter[str], float]:
    started = time.perf_counter()
    deadline = time.monotonic() + max_seconds

    def one(i: int) -> tuple[float, str]:
        return search(url, i) if time.monotonic() < deadline else (0.0, "not sent (--max-seconds)")

    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(one, range(requests)))
    errors = Counter(error for _, error in results if error)
    return [seconds for seconds, error in results if not error], errors, time.perf_counter() - started


def mixed_request(url: str, kind: str, index: int, photos: list[bytes], crop_ids: list[int]) -> tuple[float, str]:
    if kind == "text":
        return search(url, index)
    if kind == "image":
        body = photo_body(photos[index % len(photos)])
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        seconds, error, _ = call(url, "POST", "/api/search/image", body, headers)
    elif kind == "crop":
        seconds, error, _ = call(url, "GET", f"/crops/{crop_ids[index % len(crop_ids)]}")
    else:
        seconds, error, _ = call(url, "GET", "/datasets")
    return seconds, error


def some_crop_ids(url: str) -> list[int]:
    _, error, data = call(
        url,
        "POST",
        "/api/search/text",
        json.dumps({"query": "a person", "k": 50}),
        {"Content-Type": "application/json"},
    )
    if error:
        raise SystemExit(f"could not find crops to load: {error}")
    return [result["crop_id"] for result in json.loads(data)["results"]]


def run_mixed(label: str, url: str, args: argparse.Namespace, photos: list[bytes]) -> None:
    crop_ids = some_crop_ids(url)
    kinds = list(itertools.islice(itertools.cycle(MIX), args.mixed_requests))
    deadline = time.monotonic() + args.max_seconds

    def one(index: int) -> tuple[str, float, str]:
        if time.monotonic() >= deadline:
            return kinds[index], 0.0, "not sent (--max-seconds)"
        return kinds[index], *mixed_request(url, kinds[index], index, photos, crop_ids)

    for index, kind in enumerate(dict.fromkeys(MIX)):  # warm each path once per worker
        for _ in range(args.workers):
            mixed_request(url, kind, index, photos, crop_ids)
    wait_until_idle(url)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        results = list(pool.map(one, range(len(kinds))))
    wall = time.perf_counter() - started
    for kind in dict.fromkeys(MIX):
        mine = [(seconds, error) for k, seconds, error in results if k == kind]
        errors = Counter(error for _, error in mine if error)
        report(f"{label}: mixed, {kind}", [s for s, e in mine if not e], errors, wall, len(mine))
    ok = sum(1 for _, _, error in results if not error)
    print(f"{'':<44} all kinds: {ok}/{len(results)} ok in {wall:.1f} s, {ok / wall:.1f} ok/s")


SLOW_HEAD = b"POST /api/search/text HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Waiting: "


def run_phases(label: str, url: str, args: argparse.Namespace, photos: list[bytes]) -> None:
    for i in range(4 * args.workers):  # each worker loads CLIP on its first query
        search(url, i)
    wait_until_idle(url)
    if args.mixed_only:
        run_mixed(label, url, args, photos)
        return
    loaded = load(url, args.requests, args.clients, args.max_seconds)
    report(f"{label}: {args.clients} clients", *loaded, args.requests)
    wait_until_idle(url)
    health: list[float] = []
    done = threading.Event()
    # Searches hold the slow clients' place in line: half a POST's headers, then nothing.
    with slow_clients(url, [SLOW_HEAD] * args.slow_clients, settle_s=1.0):
        prober = threading.Thread(target=probe_healthz, args=(url, done, health), daemon=True)
        prober.start()
        results = load(url, args.requests, args.clients, args.max_seconds)
        done.set()
        prober.join(REQUEST_TIMEOUT_S + 5)
    report(f"{label}: + {args.slow_clients} slow clients", *results, args.requests)
    finite = [s for s in health if s != float("inf")]
    p50, _ = percentiles_ms(finite) if finite else (float("nan"), 0)
    worst = max(health) * 1000 if health else float("nan")
    print(
        f"{'':<44} /healthz: {len(health)} probes, {len(health) - len(finite)} failed, "
        f"p50 {p50:.0f} ms, max {worst:.0f} ms"
    )
    wait_until_idle(url)
    run_mixed(label, url, args, photos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--slow-clients", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (threads: the config's default)")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--clip", choices=["base", "tiny"], default="base")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--mixed-requests", type=int, default=500, help="requests of the mixed row")
    parser.add_argument("--mixed-only", action="store_true", help="only the mixed row (a brief run)")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="each row stops sending after this")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env: dict[str, str] = {}
    try:
        env = prepare(work, args)
        photos = [path.read_bytes() for path in sorted((work / "photos").iterdir())[:4]]
        with gunicorn("visualsearch.wsgi:application", env, work / "gunicorn.log", workers=args.workers) as url:
            print(
                f"gunicorn: {args.workers} workers x {os.environ.get('GUNICORN_THREADS', 'default')} threads; "
                + (f"{args.mixed_requests} mixed requests" if args.mixed_only else f"{args.requests} text searches")
                + f" per row, {args.clients} clients, {os.cpu_count()} CPUs"
            )
            run_phases("gunicorn directly", url, args, photos)
            if shutil.which("nginx"):
                # The bench plays the TLS-terminating load balancer: its X-Forwarded-Proto is passed on.
                upstream = url.removeprefix("http://")
                with nginx(work / "nginx", upstream, 20 * 1024 * 1024, trust_forwarded_proto=True) as proxied:
                    run_phases("through nginx", proxied, args, photos)
            else:
                print("nginx is not installed: the rows through nginx are skipped")
    finally:
        if env:
            stop_embedded_db(env)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
