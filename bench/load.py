"""Concurrent text searches against the production serving setup, with and without slow clients.

On loopback only, in a throw-away var folder (its own embedded PostgreSQL, media and
index): a small COCO128 sample is indexed with yolov5n and a test CLIP, then the site is
served as in production (gunicorn with docker/gunicorn.conf.py, DEBUG unset, a random
SECRET_KEY, BEHIND_PROXY with X-Forwarded-Proto https, Redis as the shared throttle
cache with SEARCH_THROTTLE_RATE raised) and loaded:

1. --requests text searches from --clients threads at once: errors, p50/p95 latency;
2. the same while --slow-clients connections hold partial headers, with /healthz probed
   throughout: failed searches and /healthz latency.

Both run against gunicorn directly and, when nginx is installed, through nginx
(docker/nginx) as compose serves it. Every request has a timeout and everything it
started is stopped at the end.

    .venv/bin/python bench/load.py [--requests 1000] [--clients 200] [--slow-clients 12] [--clip base|tiny]
"""

from __future__ import annotations

import argparse
import http.client
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

from _setup import ROOT, percentiles_ms

sys.path.insert(0, str(ROOT))
from tests.deploy.servers import gunicorn, nginx, slow_clients, stop_embedded_db

QUERIES = ["a person riding a bike", "a red car", "a laptop on a desk", "a handbag", "a football on grass", "a book"]
REQUEST_TIMEOUT_S = 30
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


def search(url: str, index: int) -> tuple[float, str]:
    """One text search on a new connection, as a new client would; (seconds, "" or what went wrong)."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"query": QUERIES[index % len(QUERIES)], "k": 12})
    headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https"}
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request("POST", "/api/search/text", body, headers)
        response = connection.getresponse()
        response.read()
        error = "" if response.status == 200 else f"HTTP {response.status}"
    except (OSError, http.client.HTTPException) as exc:
        error = type(exc).__name__
    finally:
        connection.close()
    return time.perf_counter() - started, error


def load(url: str, requests: int, clients: int) -> tuple[list[float], Counter[str], float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(lambda i: search(url, i), range(requests)))
    errors = Counter(error for _, error in results if error)
    return [seconds for seconds, error in results if not error], errors, time.perf_counter() - started


def report(label: str, seconds: list[float], errors: Counter[str], wall: float, requests: int) -> None:
    p50, p95 = percentiles_ms(seconds) if seconds else (float("nan"), float("nan"))
    detail = f" ({', '.join(f'{k} x{v}' for k, v in errors.items())})" if errors else ""
    print(
        f"{label:<44} errors {sum(errors.values()):4d}/{requests}{detail}  p50 {p50:7.0f} ms  p95 {p95:7.0f} ms"
        f"  {len(seconds) / wall:6.1f} ok/s"
    )


def probe_healthz(url: str, stop_event: threading.Event, latencies: list[float]) -> None:
    host, port = url.removeprefix("http://").split(":")
    while not stop_event.is_set():
        started = time.perf_counter()
        connection = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            latencies.append(time.perf_counter() - started)
        except (OSError, http.client.HTTPException):
            latencies.append(float("inf"))
        finally:
            connection.close()
        stop_event.wait(0.5)


SLOW_HEAD = b"POST /api/search/text HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Waiting: "


def wait_until_idle(url: str, deadline_s: float = 180.0) -> None:
    """Let the server finish what an earlier row left queued (requests whose clients gave up
    are still served), so each row measures itself, not the one before."""
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            if time.perf_counter() - started < 0.2:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(1.0)


def run_phases(label: str, url: str, args: argparse.Namespace) -> None:
    for i in range(4 * args.workers):  # each worker loads CLIP on its first query
        search(url, i)
    wait_until_idle(url)
    report(f"{label}: {args.clients} clients", *load(url, args.requests, args.clients), args.requests)
    wait_until_idle(url)
    health: list[float] = []
    done = threading.Event()
    # Searches hold the slow clients' place in line: half a POST's headers, then nothing.
    with slow_clients(url, [SLOW_HEAD] * args.slow_clients, settle_s=1.0):
        prober = threading.Thread(target=probe_healthz, args=(url, done, health), daemon=True)
        prober.start()
        results = load(url, args.requests, args.clients)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--slow-clients", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (threads: the config's default)")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--clip", choices=["base", "tiny"], default="base")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env: dict[str, str] = {}
    try:
        env = prepare(work, args)
        with gunicorn("visualsearch.wsgi:application", env, work / "gunicorn.log", workers=args.workers) as url:
            print(
                f"gunicorn: {args.workers} workers x {os.environ.get('GUNICORN_THREADS', 'default')} threads; "
                f"{args.requests} text searches per row, {os.cpu_count()} CPUs"
            )
            run_phases("gunicorn directly", url, args)
            if shutil.which("nginx"):
                with nginx(work / "nginx", url.removeprefix("http://"), 20 * 1024 * 1024) as proxied:
                    run_phases("through nginx", proxied, args)
            else:
                print("nginx is not installed: the rows through nginx are skipped")
    finally:
        if env:
            stop_embedded_db(env)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
