"""A photo's fingerprint, computed once from its pixels, stored on PhotoFingerprint.

- ``phash``: the whole frame's pHash, as before (indexing.vision.hashing);
- ``trimmed_phash``: the pHash of the frame inside its uniform borders (indexing.duplicates.borders),
  the same as ``phash`` for a photo without borders;
- ``variant_hashes``: both hashes in the 8 orientations (indexing.duplicates.orientation),
  what a photo is matched *with*: the stored side keeps its own orientation, so one photo's
  16 variants against every stored photo's 2 hashes cover every flip and turn of either;
- ``hash_keys``: the 16-bit chunks of the two stored hashes, position-tagged, under a GIN index
  (indexing.duplicates.multi_index): the perceptual tier reads only rows sharing a chunk;
- ``descriptor``: the 64-d colour descriptor the verification tier shortlists by.

``FINGERPRINT_VERSION`` says which fingerprints have all of these: older ones (version 1,
made before migration 0009) are made again by the recompute path (recompute_dataset).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from indexing.duplicates import features, multi_index
from indexing.duplicates.borders import Box, trim_borders
from indexing.duplicates.orientation import dihedral_hashes
from indexing.models import PhotoFingerprint, SourceImage

FINGERPRINT_VERSION = 2


@dataclass(frozen=True)
class Hashes:
    phash: int
    trimmed_phash: int
    border: Box | None  # the frame kept inside the borders, None without borders
    variants: tuple[int, ...]  # distinct hashes of both frames in 8 orientations, the photo's own first
    descriptor: np.ndarray

    @property
    def stored(self) -> tuple[int, ...]:
        return (self.phash, self.trimmed_phash) if self.trimmed_phash != self.phash else (self.phash,)


def compute(pixels: Image.Image) -> Hashes:
    """Everything the perceptual and verification tiers know of a photo, from its decoded pixels."""
    whole = dihedral_hashes(pixels)
    trimmed_image, box = trim_borders(pixels)
    trimmed = dihedral_hashes(trimmed_image) if box else whole
    variants = tuple(dict.fromkeys([*whole, *trimmed]))  # ordered, without repeats
    return Hashes(whole[0], trimmed[0], box, variants, features.descriptor(trimmed_image))


def of_fingerprint(fingerprint: PhotoFingerprint) -> tuple[int, ...]:
    """The hashes to match a stored photo with: its variants, or its one pHash for a version-1 fingerprint."""
    return tuple(fingerprint.variant_hashes or [fingerprint.phash])


def store(image: SourceImage, hashes: Hashes, *, skipped: bool | None = None) -> PhotoFingerprint:
    """Store (or refresh) ``image``'s fingerprint; ``skipped`` unchanged when None."""
    values = {
        "phash": hashes.phash,
        "trimmed_phash": hashes.trimmed_phash,
        "border": list(hashes.border) if hashes.border else None,
        "variant_hashes": list(hashes.variants),
        "hash_keys": multi_index.keys(hashes.stored),
        "descriptor": hashes.descriptor,
        "version": FINGERPRINT_VERSION,
    }
    if skipped is not None:
        values["skipped"] = skipped
    fingerprint, _ = PhotoFingerprint.objects.update_or_create(image=image, defaults=values)
    return fingerprint
