"""The untrusted parts of a COCO annotations file: the paths it names and the URLs it points at.

An annotations file comes from elsewhere (a download, a colleague, a bug report), so
what it says is checked before anything is read, written or fetched:

- ``file_name`` must stay inside the images folder: no absolute paths, no ``..``, no
  symlink that leads out (a crafted ``../../x`` would otherwise be written or linked);
- ``coco_url`` is fetched only over https from COCO_IMAGE_HOSTS, and what comes back
  must be a photo (see indexing.vision.formats) before it is kept;
- whole files (the COCO annotations archive) are kept only when their sha256 matches.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from indexing.vision.errors import ImageError
from indexing.vision.formats import identify_raster
from indexing.vision.weights.downloads import SourceUnreachable, require_reachable, stream_to_file

# images.cocodataset.org is an S3 bucket whose https certificate is S3's, not its own
# name's: the same files are fetched over https through S3's path-style address.
HTTPS_ADDRESSES = {"images.cocodataset.org": "https://s3.amazonaws.com/images.cocodataset.org"}
CHUNK = 1 << 20


class DatasetError(Exception):
    """A dataset version cannot be built as asked (bad input, existing version, missing images)."""


# --- paths ------------------------------------------------------------------------


def check_file_name(file_name: Any) -> str:
    """``file_name`` when it is a relative path that stays where it is put; DatasetError otherwise."""
    if not isinstance(file_name, str) or not file_name.strip() or "\0" in file_name:
        raise DatasetError(f"Refusing the annotations: file_name {file_name!r} is not a file name.")
    posix = PurePosixPath(file_name.replace("\\", "/"))
    if posix.is_absolute() or PureWindowsPath(file_name).drive or ".." in posix.parts:
        raise DatasetError(
            f"Refusing the annotations: file_name {file_name!r} points outside the images folder "
            "(absolute path or '..')."
        )
    return file_name


def image_path(images_dir: Path, file_name: str) -> Path:
    """Where ``file_name`` lives under ``images_dir``; DatasetError if it, or a symlink on the way, leads out."""
    path = Path(images_dir) / check_file_name(file_name).replace("\\", "/")
    root = Path(images_dir).resolve()
    if not path.resolve().is_relative_to(root):
        raise DatasetError(f"Refusing {file_name!r}: it is a symlink (or under one) that leads out of {images_dir}.")
    return path


# --- image URLs -------------------------------------------------------------------


def allowed_hosts() -> set[str]:
    return {host.strip().lower() for host in settings.COCO_IMAGE_HOSTS if host.strip()}


def image_download_url(url: str, hosts: Iterable[str] | None = None) -> str:
    """The https URL to fetch a ``coco_url`` from; DatasetError unless its host is allowed.

    COCO's own files name ``http://images.cocodataset.org/...``: they are fetched from the
    same bucket over https (HTTPS_ADDRESSES), never over plain http.
    """
    hosts = allowed_hosts() if hosts is None else {h.lower() for h in hosts}
    try:
        parts = urlsplit(str(url))
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError as exc:
        raise DatasetError(f"Refusing coco_url {url!r}: not a URL ({exc}).") from exc
    path = parts.path
    if host == "s3.amazonaws.com" and path.startswith("/images.cocodataset.org/"):
        host, path = "images.cocodataset.org", path.removeprefix("/images.cocodataset.org")
    if parts.username or parts.password or port not in (None, 80 if parts.scheme == "http" else 443):
        raise DatasetError(f"Refusing coco_url {url!r}: credentials or an unusual port in the URL.")
    if host not in hosts:
        raise DatasetError(
            f"Refusing coco_url {url!r}: {host or 'no host'} is not in COCO_IMAGE_HOSTS ({', '.join(sorted(hosts))})."
        )
    if host in HTTPS_ADDRESSES and parts.scheme in ("http", "https"):
        return HTTPS_ADDRESSES[host] + path + (f"?{parts.query}" if parts.query else "")
    if parts.scheme != "https":
        raise DatasetError(f"Refusing coco_url {url!r}: images are downloaded over https only.")
    return urlunsplit(("https", host, path, parts.query, ""))


# --- downloads --------------------------------------------------------------------


def fetch_image(session: Any, url: str, dest: Path, timeout: float) -> None:
    """Download one photo (its URL checked by image_download_url) to ``dest``: no redirects, capped, must decode."""
    # No redirects: an allowed host must not hand the download to one that is not.
    with session.get(url, timeout=timeout, stream=True, allow_redirects=False) as response:
        if response.status_code != 200:
            raise DatasetError(f"Downloading {url} answered {response.status_code}.")
        data = read_capped(response, settings.MAX_UPLOAD_BYTES, url)
    try:
        identify_raster(data, name=f"The download of {url}")
    except ImageError as exc:
        raise DatasetError(str(exc)) from exc
    write_atomically(dest, [data])


def download_images(images: Sequence[Any], images_dir: Path, retries: int = 5, timeout: float = 30.0) -> None:
    """Fetch each image from its ``coco_url`` into ``images_dir`` (retries with backoff, progress bar).

    Every URL is checked first (https, COCO_IMAGE_HOSTS): one refused URL fetches nothing.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from tqdm import tqdm
    from urllib3.util.retry import Retry

    without_url = [img.file_name for img in images if not img.coco_url]
    if without_url:
        raise DatasetError(f"{len(without_url)} missing images have no coco_url to download from")
    urls = [image_download_url(img.coco_url) for img in images]
    if urls:
        require_source(urls[0], f"{len(urls)} COCO photos")
    retry = Retry(total=retries, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504))
    images_dir.mkdir(parents=True, exist_ok=True)
    with requests.Session() as session:
        # The same retries whatever the scheme; image_download_url let only https through.
        session.mount("https://", HTTPAdapter(max_retries=retry))
        session.mount("http://", HTTPAdapter(max_retries=retry))
        for img, url in tqdm(list(zip(images, urls, strict=True)), desc="download", unit="img"):
            fetch_image(session, url, image_path(images_dir, img.file_name), timeout)


class DownloadSourceUnreachable(DatasetError):
    """The download host does not answer; the message already names the offline settings."""


def require_source(url: str, what: str) -> None:
    """Fail in seconds, with the offline settings, when the download host does not answer."""
    try:
        require_reachable(url, what)
    except SourceUnreachable as exc:
        raise DownloadSourceUnreachable(str(exc)) from exc


def read_capped(response: Any, limit: int, url: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(CHUNK):
        size += len(chunk)
        if size > limit:
            raise DatasetError(f"Refusing {url}: larger than {limit:,} bytes (MAX_UPLOAD_BYTES).")
        chunks.append(chunk)
    return b"".join(chunks)


def write_atomically(dest: Path, chunks: Iterable[bytes]) -> None:
    # A temporary name first: an interrupted write must not look like a finished file.
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    with open(partial, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
    os.replace(partial, dest)


def fetch_verified_file(url: str, dest: Path, sha256: str, timeout: float = 60.0, progress=None) -> Path:
    """Download ``url`` to ``dest`` only if its sha256 is ``sha256``; DatasetError otherwise.

    The file is hashed while it streams into ``<dest>.part`` and renamed into place
    only after the checksum matched, so nothing unchecked is ever opened.
    """
    import requests

    if not url.startswith("https://") or not sha256:
        raise DatasetError(f"Refusing to download {url}: https and a known sha256 are required.")
    require_source(url, url.rsplit("/", 1)[-1])
    partial = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        # No redirects: the checked host must not hand the download to another.
        actual = stream_to_file(url, partial, timeout=timeout, allow_redirects=False, progress=progress)
    except requests.RequestException as exc:
        partial.unlink(missing_ok=True)
        raise DatasetError(f"Could not download {url}: {exc}") from exc
    if actual != sha256.lower():
        partial.unlink(missing_ok=True)
        raise DatasetError(f"{url} downloaded with sha256 {actual}, not the expected {sha256}; refused.")
    os.replace(partial, dest)
    return dest
