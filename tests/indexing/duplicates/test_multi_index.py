"""The perceptual tier's chunk lookup and the fingerprint upgrade, in the real PostgreSQL."""

from __future__ import annotations

import random
from pathlib import Path

from django.db import connection

from indexing.catalog import ingest
from indexing.duplicates import fingerprints, multi_index
from indexing.duplicates import groups as duplicate_groups
from indexing.duplicates.borders import border_box
from indexing.duplicates.orientation import dihedral_hashes
from indexing.models import DuplicateMember, PhotoFingerprint
from indexing.vision.hashing import hamming, phash_int, to_signed
from tests.duplicate_photos import altered
from tests.factories import make_dataset, make_image


def _flip(value: int, bits: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return to_signed(value)


def test_the_lookup_never_misses_a_hash_within_its_guaranteed_distance(db):
    rng = random.Random(3)
    dataset = make_dataset()
    stored = {}
    for seed in range(30):
        value = to_signed(rng.getrandbits(64))
        image = make_image(dataset, seed)
        PhotoFingerprint.objects.create(image=image, phash=value, hash_keys=multi_index.keys([value]))
        stored[image.pk] = value
    for radius in (0, 1):
        limit = multi_index.guaranteed_distance(radius)
        for pk, value in stored.items():
            query = _flip(value & ((1 << 64) - 1), limit, rng)
            found = dict(multi_index.nearest(-1, [query], limit, radius, 50))
            assert found.get(pk) == limit  # the exact distance, from SQL's bit_count
    # A row sharing no chunk is not read at all, however close in bits it is elsewhere.
    far = {k for k in multi_index.probe_keys([0], 0)}
    assert not far & set(multi_index.keys([to_signed(0xFFFF_FFFF_FFFF_FFFF)]))


def test_the_lookup_leaves_the_planner_as_it_found_it(db):
    multi_index.nearest(-1, [1, 2], 4, 1, 10)
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "on"


def test_orientations_are_the_hashes_of_the_turned_photos(coco_subset_files: list[Path]):
    from PIL import Image, ImageOps

    photo = Image.open(coco_subset_files[0]).convert("RGB")
    variants = dihedral_hashes(photo)
    assert variants[0] == phash_int(photo)
    for turned in (ImageOps.mirror(photo), photo.transpose(Image.Transpose.ROTATE_90), photo.rotate(180)):
        assert min(hamming(phash_int(turned), v) for v in variants) == 0


def test_borders_of_any_colour_are_trimmed_and_a_plain_photo_is_not(coco_subset_files: list[Path]):
    import io

    from PIL import Image

    path = coco_subset_files[1]
    plain = Image.open(path).convert("RGB")
    assert border_box(plain) is None
    for change in ("letterbox", "screenshot", "padding"):
        framed = Image.open(io.BytesIO(altered(path, change))).convert("RGB")
        left, top, right, bottom = border_box(framed)
        # The kept frame is the photo, to a few pixels (JPEG blurs the edge).
        assert abs((right - left) - plain.width) <= 8 and abs((bottom - top) - plain.height) <= 8


def test_the_migration_fills_the_same_chunk_keys_as_the_code(db):
    import importlib

    migration = importlib.import_module("indexing.migrations.0010_near_duplicate_tiers")
    dataset = make_dataset()
    values = [to_signed(v) for v in (0, 0xFFFF_FFFF_FFFF_FFFF, 0x0123_4567_89AB_CDEF, 0x8000_0000_0000_0001)]
    for seed, value in enumerate(values):
        PhotoFingerprint.objects.create(image=make_image(dataset, seed), phash=value)
    with connection.cursor() as cursor:
        cursor.execute(migration.FILL_HASH_KEYS)
    for row in PhotoFingerprint.objects.all():
        assert row.hash_keys == multi_index.keys([row.phash])


def test_recompute_upgrades_fingerprints_made_before_orientations(db, coco_subset_files: list[Path]):
    dataset = make_dataset()
    path = coco_subset_files[2]
    original, _ = ingest.ingest_image(dataset, "original.jpg", path.read_bytes())
    mirrored, _ = ingest.ingest_image(dataset, "mirror.jpg", altered(path, "mirror"))
    for image in (original, mirrored):  # as migration 0009 leaves a version-1 fingerprint: one pHash, its chunks
        from indexing.catalog.stored_files import decode_stored_image

        value = phash_int(decode_stored_image(image))
        PhotoFingerprint.objects.create(image=image, phash=value, hash_keys=multi_index.keys([value]))
    duplicate_groups.recompute_dataset(dataset_id=dataset.pk)

    assert set(PhotoFingerprint.objects.values_list("version", flat=True)) == {fingerprints.FINGERPRINT_VERSION}
    assert DuplicateMember.objects.get(image=mirrored).group == DuplicateMember.objects.get(image=original).group
