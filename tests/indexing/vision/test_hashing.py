"""Perceptual hashes: odd photos hash like they are indexed, broken ones say why, copies stay close."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from indexing.vision.errors import ImageError
from indexing.vision.hashing import hamming, hash_photo, perceptual_score, to_signed
from tests.bad_files import encoded, odd_but_valid_uploads, photo_like, refused_uploads


@pytest.mark.parametrize("kind", sorted(odd_but_valid_uploads()))
def test_odd_photos_hash_to_a_signed_64_bit_integer(kind) -> None:
    value = hash_photo(odd_but_valid_uploads()[kind].data)
    assert -(2**63) <= value < 2**63


def test_a_one_pixel_photo_hashes() -> None:
    value = hash_photo(encoded(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"))
    assert -(2**63) <= value < 2**63


def test_an_exif_rotated_photo_hashes_like_the_upright_one() -> None:
    upright = photo_like(240, 320, seed=3)
    # Stored on its side, with EXIF orientation 6 ("rotate 90 clockwise to view").
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    rotated_hash = hash_photo(buffer.getvalue())
    upright_hash = hash_photo(encoded(upright, "JPEG", quality=95))
    sideways_hash = hash_photo(encoded(stored, "JPEG", quality=95))
    assert hamming(rotated_hash, upright_hash) <= 2
    assert hamming(rotated_hash, sideways_hash) > 10  # the rotation was applied, not ignored


@pytest.mark.parametrize("kind", ["truncated JPEG", "non-image bytes", "zero-byte file", "PPM with a bogus header"])
def test_a_broken_photo_is_an_image_error_with_its_reason(kind) -> None:
    upload = refused_uploads()[kind]
    with pytest.raises(ImageError, match=upload.message):
        hash_photo(upload.data, name=upload.name)


def test_a_re_encoded_copy_is_near_and_another_photo_far(coco_subset_files) -> None:
    original = Image.open(coco_subset_files[0]).convert("RGB")
    copy = encoded(original, "JPEG", quality=60)
    half = encoded(original.resize((original.width // 2, original.height // 2)), "JPEG", quality=90)
    base = hash_photo(encoded(original, "PNG"))
    assert hamming(base, hash_photo(copy)) <= 4
    assert hamming(base, hash_photo(half)) <= 4
    assert hamming(base, hash_photo(coco_subset_files[1])) > 16


def test_signed_and_unsigned_views_have_the_same_bits() -> None:
    assert to_signed(2**64 - 1) == -1
    assert to_signed(5) == 5
    assert hamming(-1, 0) == 64
    assert hamming(to_signed(2**63), 0) == 1
    assert perceptual_score(0) == 1.0 and perceptual_score(16) == 0.75
