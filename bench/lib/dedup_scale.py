"""bench/dedup.py's scale part: the perceptual lookup and the verification shortlist at 100k and 1M photos.

The stored fingerprints are synthetic (uniformly random 64-bit hashes and random unit
descriptors), inserted straight in SQL: real photos' hashes cluster more, so real chunk
buckets are fuller than these and a real lookup reads more rows. Planted near neighbours
(a stored hash ``k`` bits from the query) say what the chunk lookup finds at each distance.
"""

from __future__ import annotations

import random
import time

import numpy as np
from django.conf import settings
from django.db import connection

from indexing.duplicates import multi_index, verification
from indexing.models import Dataset, PhotoFingerprint
from lib.setup import percentiles_ms

HASH_KEYS_SQL = """ARRAY(SELECT DISTINCT unnest(ARRAY[
    ((phash >> 48) & 65535)::int, 65536 + ((phash >> 32) & 65535)::int,
    131072 + ((phash >> 16) & 65535)::int, 196608 + (phash & 65535)::int]) ORDER BY 1)"""


def _fill(dataset: Dataset, start: int, count: int, descriptors: bool) -> None:
    image_table = "indexing_sourceimage"
    table = PhotoFingerprint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {image_table} (dataset_id, file, original_name, split, sha256, status, error, created) "
            "SELECT %s, 'bench/' || n || '.jpg', '', '', lpad(to_hex(n), 64, '0'), 'done', '', now() "
            "FROM generate_series(%s, %s) AS n",
            [dataset.pk, start, start + count - 1],
        )
        descriptor = (
            "(SELECT array_agg(random() - 0.5) FROM generate_series(1, 64) WHERE n > 0)::vector(64)"
            if descriptors
            else "NULL"
        )
        cursor.execute(
            f"INSERT INTO {table} (image_id, phash, trimmed_phash, variant_hashes, hash_keys, descriptor, "
            "skipped, version, created) "
            f"SELECT id, phash, phash, ARRAY[phash], {HASH_KEYS_SQL}, d::vector(64), false, 2, now() FROM ("
            "  SELECT i.id, (floor(random() * 4294967296)::bigint << 32)"
            "    | floor(random() * 4294967296)::bigint AS phash,"
            f"   {descriptor.replace('n > 0', 'i.id > 0')} AS d"
            f"  FROM {image_table} i WHERE i.dataset_id = %s AND i.sha256 >= lpad(to_hex(%s), 64, '0')"
            ") AS rows",
            [dataset.pk, start],
        )
        cursor.execute(f"ANALYZE {table}")


def _flip_bits(value: int, bits: int, rng: random.Random) -> int:
    value &= (1 << 64) - 1
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return value - (1 << 64) if value >= 1 << 63 else value


def _time(fn, runs: int) -> tuple[float, float]:
    seconds = []
    for _ in range(runs):
        begun = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - begun)
    return percentiles_ms(seconds)


# The descriptor HNSW index is built once after the fill (inserting row by row into it costs
# about 5 ms a row here): the first DESCRIPTOR_ROWS rows get descriptors, the rest none.
DESCRIPTOR_ROWS = 100_000
_HNSW = (
    "CREATE INDEX IF NOT EXISTS fingerprint_descriptor_hnsw ON indexing_photofingerprint "
    "USING hnsw (descriptor vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
)


def measure(scales: list[int], runs: int = 100) -> None:
    """Print per-query p50/p95 of the lookups at each scale (the rows are deleted afterwards)."""
    rng = random.Random(0)
    dataset = Dataset.objects.create(name="bench-dedup-scale", version=str(time.time_ns()))
    stored = 0
    try:
        for scale in sorted(scales):
            began = time.perf_counter()
            while stored < scale:
                count = min(100_000, scale - stored)
                with_descriptors = stored < DESCRIPTOR_ROWS
                if with_descriptors:
                    with connection.cursor() as cursor:
                        cursor.execute("DROP INDEX IF EXISTS fingerprint_descriptor_hnsw")
                _fill(dataset, stored + 1, count, descriptors=with_descriptors)
                if with_descriptors:
                    with connection.cursor() as cursor:
                        cursor.execute("SET maintenance_work_mem = '256MB'")
                        cursor.execute(_HNSW)
                stored += count
            print(f"Scale {scale:,} fingerprints (synthetic; filled in {time.perf_counter() - began:.0f} s):")
            _report(dataset, scale, rng, runs)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {PhotoFingerprint._meta.db_table} WHERE image_id IN "
                "(SELECT id FROM indexing_sourceimage WHERE dataset_id = %s)",
                [dataset.pk],
            )
            # In SQL: Django's cascade would load a million photos into Python first.
            cursor.execute("DELETE FROM indexing_sourceimage WHERE dataset_id = %s", [dataset.pk])
            cursor.execute(_HNSW)
        dataset.delete()


def _report(dataset: Dataset, scale: int, rng: random.Random, runs: int) -> None:
    table = PhotoFingerprint._meta.db_table
    limit = settings.DEDUP_PHASH_MAX_DISTANCE

    def queries() -> list[int]:
        return [rng.getrandbits(64) - 2**63 for _ in range(16)]

    def full_scan() -> None:  # the old tier: one hash, bit_count over every row
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT image_id FROM {table} WHERE bit_count((phash # %s)::bit(64)) <= %s LIMIT 50",
                [rng.getrandbits(64) - 2**63, limit],
            )
            cursor.fetchall()

    p50, p95 = _time(full_scan, max(10, runs // 5))
    print(f"  old full scan, 1 hash: p50 {p50:.1f} ms  p95 {p95:.1f} ms (x16 variants ≈ {16 * p50:.0f} ms)")
    for radius in (0, 1):
        p50, p95 = _time(lambda r=radius: multi_index.nearest(-1, queries(), limit, r, 50), runs)
        keys = len(multi_index.probe_keys(queries(), radius))
        print(f"  chunk lookup, 16 hashes, radius {radius} ({keys} keys): p50 {p50:.1f} ms  p95 {p95:.1f} ms")
    # Planted neighbours: how often the lookup finds a stored hash k bits away.
    sample = list(PhotoFingerprint.objects.filter(image__dataset=dataset).values_list("image_id", "phash")[:40])
    for radius in (0, 1):
        cells = []
        for bits in (3, 5, 7, 8, 10, 12):
            found = 0
            for pk, phash in sample:
                query = _flip_bits(phash, bits, rng)
                found += any(m == pk for m, _ in multi_index.nearest(-1, [query], 64, radius, 1000))
            cells.append(f"{bits} bits {found / len(sample):.2f}")
        print(f"  lookup recall of a planted neighbour, radius {radius}: " + "  ".join(cells))
    with_descriptor = PhotoFingerprint.objects.filter(image__dataset=dataset, descriptor__isnull=False).count()
    if with_descriptor:

        def shortlist() -> None:
            vector = np.random.default_rng(rng.getrandbits(32)).normal(size=64).astype(np.float32)
            verification.shortlist(-1, vector / np.linalg.norm(vector), [], settings.DEDUP_VERIFY_MAX_CALLS)

        p50, p95 = _time(shortlist, runs)
        print(
            f"  verification shortlist (HNSW top {settings.DEDUP_VERIFY_MAX_CALLS} over {with_descriptor:,} "
            f"descriptors): p50 {p50:.1f} ms  p95 {p95:.1f} ms"
        )
