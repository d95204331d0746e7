"""The pHash of a photo in its eight orientations (mirror, quarter turns and their mixes), from one DCT.

A mirrored or quarter-turned copy has a pHash unrelated to its original's: the hash reads
the low frequencies in place. Flips and turns act on the DCT exactly, though: reversing a
row multiplies its k-th coefficient by (-1)^k, and a transpose transposes the coefficients.
So one 32x32 DCT gives the 8 dihedral variants' hashes (each thresholded at its own
median, as imagehash does), bit for bit what imagehash.phash returns for the flipped or
turned photo, at the cost of a few numpy operations.

The identity variant comes first and equals indexing.vision.hashing.phash_int, so the
hashes stored before orientations were matched stay valid.
"""

from __future__ import annotations

import numpy as np
import scipy.fftpack
from PIL import Image

from indexing.vision.hashing import to_signed

HASH_SIZE = 8
_IMG_SIZE = HASH_SIZE * 4  # imagehash's highfreq_factor
# (-1)^k for the 8 kept frequencies: a flip along an axis multiplies its coefficients by this.
_SIGNS = np.array([(-1.0) ** k for k in range(HASH_SIZE)])


def low_frequencies(image: Image.Image) -> np.ndarray:
    """The 8x8 low-frequency DCT block pHash thresholds (imagehash.phash's steps, in its order)."""
    pixels = np.asarray(image.convert("L").resize((_IMG_SIZE, _IMG_SIZE), Image.Resampling.LANCZOS))
    return scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:HASH_SIZE, :HASH_SIZE]


def dihedral_blocks(block: np.ndarray) -> list[np.ndarray]:
    """The block of each of the 8 orientations: identity, mirror, and the turns of both."""
    mirror = block * _SIGNS[np.newaxis, :]  # left-right flip: columns' frequencies change sign
    flip = block * _SIGNS[:, np.newaxis]  # upside-down
    both = flip * _SIGNS[np.newaxis, :]  # 180 degrees
    # A transpose turns the photo about its diagonal; with the flips it gives the quarter turns.
    return [block, mirror, flip, both, block.T, mirror.T, flip.T, both.T]


def bits_to_int(block: np.ndarray) -> int:
    bits = (block > np.median(block)).flatten()
    return to_signed(int("".join("1" if b else "0" for b in bits), 2))


def dihedral_hashes(image: Image.Image) -> list[int]:
    """The signed 64-bit pHashes of ``image`` in its 8 orientations; the first is its own pHash."""
    return [bits_to_int(b) for b in dihedral_blocks(low_frequencies(image))]
