"""bench/load.py's HTTP side: one request per new loopback connection, as a new client sends it."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter

from lib.setup import percentiles_ms

QUERIES = ["a person riding a bike", "a red car", "a laptop on a desk", "a handbag", "a football on grass", "a book"]
REQUEST_TIMEOUT_S = 30
BOUNDARY = "bench-load-boundary"


def loopback(url: str) -> tuple[str, int]:
    """host and port of ``url``, which must be this machine's loopback: the bench loads nothing else."""
    host, port = url.removeprefix("http://").split(":")
    if host != "127.0.0.1":
        raise SystemExit(f"bench/load.py only loads 127.0.0.1, not {host}")
    return host, int(port)


def call(url: str, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None):
    """One request on a new connection, as a new client would; (seconds, "" or what went wrong, body)."""
    host, port = loopback(url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
    data = b""
    try:
        connection.request(method, path, body, {"X-Forwarded-Proto": "https", **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        error = "" if response.status == 200 else f"HTTP {response.status}"
    except (OSError, http.client.HTTPException) as exc:
        error = type(exc).__name__
    finally:
        connection.close()
    return time.perf_counter() - started, error, data


def search(url: str, index: int) -> tuple[float, str]:
    """One text search; (seconds, "" or what went wrong)."""
    body = json.dumps({"query": QUERIES[index % len(QUERIES)], "k": 12})
    seconds, error, _ = call(url, "POST", "/api/search/text", body, {"Content-Type": "application/json"})
    return seconds, error


def photo_body(photo: bytes) -> bytes:
    """A multipart photo search, as the API takes it."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="k"\r\n\r\n12\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="q.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + photo + f"\r\n--{BOUNDARY}--\r\n".encode()


def report(label: str, seconds: list[float], errors: Counter[str], wall: float, requests: int) -> None:
    p50, p95 = percentiles_ms(seconds) if seconds else (float("nan"), float("nan"))
    detail = f" ({', '.join(f'{k} x{v}' for k, v in errors.items())})" if errors else ""
    print(
        f"{label:<44} errors {sum(errors.values()):4d}/{requests}{detail}  p50 {p50:7.0f} ms  p95 {p95:7.0f} ms"
        f"  {len(seconds) / wall:6.1f} ok/s"
    )


def probe_healthz(url: str, stop_event: threading.Event, latencies: list[float]) -> None:
    host, port = loopback(url)
    while not stop_event.is_set():
        started = time.perf_counter()
        connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            latencies.append(time.perf_counter() - started)
        except (OSError, http.client.HTTPException):
            latencies.append(float("inf"))
        finally:
            connection.close()
        stop_event.wait(0.5)


def wait_until_idle(url: str, deadline_s: float = 180.0) -> None:
    """Let the server finish what an earlier row left queued (requests whose clients gave up
    are still served), so each row measures itself, not the one before."""
    host, port = loopback(url)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
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
