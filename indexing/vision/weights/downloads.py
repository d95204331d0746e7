"""Before anything is downloaded, one quick look at whether its source answers.

Without it an offline machine learns nothing for minutes: yolov5's downloader
retries with growing back-off (1, 2, 4 ... 256 s) and the model hub client retries
too. ``require_reachable`` resolves the host and opens one TCP connection (through
the configured https proxy, when there is one) with a short timeout, and raises
``SourceUnreachable`` with one sentence that says which settings avoid the
download. The answer is remembered for a while, so a web process whose models
cannot be fetched answers each request in milliseconds, not each after a timeout.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from indexing.vision.errors import ModelLoadError

logger = logging.getLogger(__name__)

# Where each kind of download comes from (the checks only look at host and port).
YOLOV5_RELEASES_URL = "https://github.com/ultralytics/yolov5/releases/"
HF_DEFAULT_ENDPOINT = "https://huggingface.co"

OFFLINE_HELP = (
    "to run without internet, set DETECTOR_WEIGHTS to a local .pt file, CLIP_MODEL to a local folder "
    "written by save_pretrained and DEMO_IMAGES to a folder of photos (README: 'Offline')"
)

_lock = threading.Lock()
_verdicts: dict[tuple[str, int], tuple[float, str]] = {}  # (host, port) -> (when, "" or the reason)


class SourceUnreachable(ModelLoadError):
    """A download source does not answer; the message names the settings that avoid it."""


def hub_endpoint() -> str:
    """The model hub transformers downloads from (HF_ENDPOINT, as huggingface_hub reads it)."""
    return os.environ.get("HF_ENDPOINT", "") or HF_DEFAULT_ENDPOINT


def require_reachable(url: str, what: str) -> None:
    """Raise SourceUnreachable, within DOWNLOAD_CHECK_TIMEOUT seconds, unless ``url``'s host answers.

    ``what`` names the download in the message, e.g. "the detector weights 'yolov5s.pt'".
    """
    problem = download_problem(url, what)
    if problem:
        raise SourceUnreachable(problem)


def download_problem(url: str, what: str) -> str:
    """The sentence require_reachable would raise, or "" when the source answers."""
    reason = _reason_unreachable(url)
    if not reason:
        return ""
    return f"Cannot download {what}: {urlsplit(url).netloc} is unreachable ({reason}); {OFFLINE_HELP}."


def _reason_unreachable(url: str) -> str:
    """ "" when the host (or the proxy for it) accepts a connection, else a short reason."""
    parts = urlsplit(url)
    target = _connect_target(parts)
    now = time.monotonic()
    with _lock:
        cached = _verdicts.get(target)
        if cached and now - cached[0] < settings.DOWNLOAD_CHECK_CACHE_SECONDS:
            return cached[1]
    reason = _try_connect(*target, timeout=settings.DOWNLOAD_CHECK_TIMEOUT)
    if reason:
        logger.warning("Download source %s is unreachable: %s", parts.netloc, reason)
    with _lock:
        _verdicts[target] = (time.monotonic(), reason)
    return reason


def _connect_target(parts) -> tuple[str, int]:
    """The host and port a download of this URL connects to first: the proxy's when one applies."""
    host = parts.hostname or ""
    if not urllib.request.proxy_bypass(host):
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy:
            proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            return proxy_parts.hostname or "", proxy_parts.port or (443 if proxy_parts.scheme == "https" else 80)
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def _try_connect(host: str, port: int, *, timeout: float) -> str:
    if not host:
        return "no host in the URL"
    addresses = _resolve(host, port, timeout=timeout)
    if isinstance(addresses, str):
        return addresses
    reason = "no address to connect to"
    for family, kind, proto, _, address in addresses:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
                return ""
        except TimeoutError:
            reason = f"no answer within {timeout:g} s"
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
    return reason


def _resolve(host: str, port: int, *, timeout: float) -> list | str:
    """getaddrinfo bounded by ``timeout``: a resolver with no server to ask can block for 20 s or more."""
    answer: list = []

    def resolve() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.append(exc)

    worker = threading.Thread(target=resolve, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not answer:
        return f"its name did not resolve within {timeout:g} s"
    if isinstance(answer[0], OSError):
        return "its name does not resolve"
    return answer[0]


def forget_verdicts() -> None:
    """Check again on the next call (tests; or after the network came back)."""
    with _lock:
        _verdicts.clear()


def stream_to_file(
    url: str,
    dest: Path,
    *,
    timeout: float = 60.0,
    allow_redirects: bool = True,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Stream ``url`` into ``dest`` and return its sha256, hashed as it is written.

    Callers write to a temporary name and rename it into place only once the checksum
    is the one they expect, so nothing unchecked is ever opened. HTTP errors raise.
    """
    import requests

    digest = hashlib.sha256()
    with requests.get(url, stream=True, timeout=timeout, allow_redirects=allow_redirects) as response:
        response.raise_for_status()
        with open(dest, "wb") as out:
            for chunk in response.iter_content(1 << 20):
                digest.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress(len(chunk))
    return digest.hexdigest()
