"""The verification tier: crops and partial overlaps, confirmed by local features, on a bounded shortlist.

A photo that no exact or perceptual match explains is compared with at most
DEDUP_VERIFY_MAX_CALLS stored photos: the nearest by the colour descriptor (pgvector over
``PhotoFingerprint.descriptor``, an HNSW index, so the shortlist costs the same at any
size). Each is one ``features.verify`` call (ORB + RANSAC homography) on the stored file,
decoded again; a pair with at least DEDUP_VERIFY_MIN_INLIERS inliers is a "verified"
match, with the matched region in both photos kept for the reviewer.

Calls are counted (``stats``, per process) so the bench can report calls per photo; a
small LRU keeps recent stored photos' keypoints, since one photo is usually a candidate
for several of its copies in a row.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Collection

import numpy as np
from django.conf import settings
from pgvector.django import CosineDistance
from PIL import Image

from indexing.catalog.stored_files import decode_stored_image
from indexing.duplicates import features
from indexing.models import PhotoFingerprint, SourceImage
from indexing.vision.errors import ImageError

logger = logging.getLogger(__name__)

_CACHE_SIZE = 256
_cache: OrderedDict[tuple[int, str], features.Keypoints] = OrderedDict()
stats = {"photos": 0, "calls": 0}


def shortlist(image_id: int, descriptor: np.ndarray, exclude: Collection[int], size: int) -> list[int]:
    """The ``size`` stored photos nearest ``descriptor`` (not ``image_id``, not ``exclude``)."""
    rows = (
        PhotoFingerprint.objects.filter(descriptor__isnull=False)
        .exclude(image_id__in=[image_id, *exclude])
        .annotate(distance=CosineDistance("descriptor", descriptor))
        .filter(distance__lte=settings.DEDUP_VERIFY_MAX_DESCRIPTOR_DISTANCE)
        .order_by("distance")
        .values_list("image_id", flat=True)[:size]
    )
    return list(rows)


def stored_keypoints(image: SourceImage) -> features.Keypoints | None:
    key = (image.pk, image.file.name)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    try:
        found = features.keypoints(decode_stored_image(image))
    except ImageError as exc:
        logger.warning("No keypoints for image %s: %s", image.pk, exc)
        return None
    _cache[key] = found
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return found


def verified(
    image: SourceImage, descriptor: np.ndarray, exclude: Collection[int], pixels: Image.Image | None = None
) -> list[tuple[int, features.Verified]]:
    """The shortlisted photos ``image`` shares a region with, most inliers first: [(image id, Verified)]."""
    calls = settings.DEDUP_VERIFY_MAX_CALLS
    if calls <= 0:
        return []
    candidates = shortlist(image.pk, descriptor, exclude, calls)
    stats["photos"] += 1
    if not candidates:
        return []
    query = features.keypoints(pixels) if pixels is not None else stored_keypoints(image)
    if query is None:
        return []
    found = []
    for candidate in SourceImage.objects.filter(pk__in=candidates).order_by("id"):
        theirs = stored_keypoints(candidate)
        stats["calls"] += 1
        result = features.verify(query, theirs) if theirs is not None else None
        if result is not None and result.inliers >= settings.DEDUP_VERIFY_MIN_INLIERS:
            found.append((candidate.pk, result))
    return sorted(found, key=lambda item: (-item[1].inliers, item[0]))
