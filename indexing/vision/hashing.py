"""Perceptual hashes of photos, no database: the "perceptual" tier of duplicate finding.

A photo is decoded through indexing.vision.images (upright per EXIF, any mode to 8-bit
RGB, animated files by their first frame), so odd photos hash the same way they are
indexed, and a broken one raises the same ImageError with its reason.

The 64-bit pHash (imagehash: DCT of a 32x32 greyscale copy, bits above the median) is
kept as a *signed* 64-bit integer, so PostgreSQL stores it in a bigint and compares two
with ``bit_count((a # b)::bit(64))``. Signed and unsigned views have the same bits, so
Hamming distances are the same either way.
"""

from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image

from indexing.vision.images import ImageSource, load_image

HASH_BITS = 64
_SIGN = 1 << 63


def phash_int(image: Image.Image) -> int:
    """The 64-bit pHash of an RGB image as a signed integer (a PostgreSQL bigint)."""
    bits = imagehash.phash(image, hash_size=8).hash.flatten()
    return to_signed(int("".join("1" if b else "0" for b in bits), 2))


def hash_photo(source: ImageSource, *, name: str | None = None, max_pixels: int | None = None) -> int:
    """Decode ``source`` (bytes, path, file) like indexing does and return its pHash; ImageError if broken."""
    return phash_int(load_image(source, name=name, max_pixels=max_pixels))


def to_signed(value: int) -> int:
    """An unsigned 64-bit value as the signed integer with the same bits."""
    value &= (1 << HASH_BITS) - 1
    return value - (1 << HASH_BITS) if value & _SIGN else value


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes (signed or not)."""
    return ((a ^ b) & ((1 << HASH_BITS) - 1)).bit_count()


def perceptual_score(distance: int) -> float:
    """A Hamming distance as a similarity in [0, 1] (1: identical hashes), shown next to each match."""
    return round(1.0 - distance / HASH_BITS, 4)


def hamming_many(query: int, hashes: np.ndarray) -> np.ndarray:
    """Hamming distances from ``query`` to an int64 array of hashes (the bench's in-memory baseline)."""
    xor = np.bitwise_xor(hashes.astype(np.int64), np.int64(query)).view(np.uint64)
    return np.bitwise_count(xor) if hasattr(np, "bitwise_count") else np.array([int(x).bit_count() for x in xor])
