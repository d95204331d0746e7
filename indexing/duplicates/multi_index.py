"""The perceptual tier in SQL, bounded: multi-index hashing over 16-bit chunks of the stored pHashes.

Each stored hash is cut into 4 chunks of 16 bits; ``hash_keys`` (int[], GIN-indexed) holds
them tagged with their position (``position * 65536 + chunk``). A query looks up the keys
of its own hashes' chunks, and of every chunk ``probe_radius`` bits away from them; only
rows sharing a key are read, then their Hamming distances are computed in SQL. Pigeonhole:
two hashes at most ``4 * (radius + 1) - 1`` bits apart share a chunk within ``radius`` bits,
so up to that distance nothing is missed (radius 1: 7 bits); further matches are found
when a chunk happens to agree. With 16 query hashes (8 orientations of 2 frames) the key
list is 16 x 4 x 17 = 1088 keys at radius 1 (bench/dedup.py times it at 100k and 1M rows).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from indexing.models import PhotoFingerprint

CHUNKS = 4
CHUNK_BITS = 16
_MASK = (1 << CHUNK_BITS) - 1


def chunks(value: int) -> list[int]:
    """The 4 16-bit chunks of a 64-bit hash (signed or not), high bits first."""
    unsigned = value & ((1 << 64) - 1)
    return [(unsigned >> (CHUNK_BITS * (CHUNKS - 1 - i))) & _MASK for i in range(CHUNKS)]


def keys(hashes: Iterable[int]) -> list[int]:
    """The position-tagged chunk keys of stored hashes (sorted, each once)."""
    return sorted({i << CHUNK_BITS | chunk for value in hashes for i, chunk in enumerate(chunks(value))})


def probe_keys(hashes: Iterable[int], radius: int) -> list[int]:
    """The keys a query looks up: its chunks and those ``radius`` (0 or 1) bits from them."""
    found: set[int] = set()
    for value in hashes:
        for i, chunk in enumerate(chunks(value)):
            found.add(i << CHUNK_BITS | chunk)
            if radius >= 1:
                found.update(i << CHUNK_BITS | (chunk ^ (1 << bit)) for bit in range(CHUNK_BITS))
    return sorted(found)


def guaranteed_distance(radius: int) -> int:
    """The largest distance the lookup never misses (pigeonhole over the chunks)."""
    return CHUNKS * (radius + 1) - 1


def nearest(image_id: int, hashes: Iterable[int], max_distance: int, radius: int, limit: int) -> list[tuple[int, int]]:
    """(image id, least Hamming distance from any of ``hashes`` to its stored hashes), best first."""
    hashes = list(hashes)
    table = PhotoFingerprint._meta.db_table
    sql = f"""
        SELECT image_id, distance FROM (
            SELECT f.image_id, (
                SELECT min(bit_count((h # q)::bit(64)))
                FROM unnest(ARRAY[f.phash, f.trimmed_phash]) AS h, unnest(%s::bigint[]) AS q
            ) AS distance
            FROM {table} f
            WHERE f.hash_keys && %s::int[] AND f.image_id <> %s
        ) AS candidates
        WHERE distance <= %s ORDER BY distance, image_id LIMIT %s
    """
    with connection.cursor() as cursor:
        # PostgreSQL has no statistics for single array elements it has never seen often, so it
        # guesses that && matches 0.5 % of the rows and scans them all; the GIN index reads the
        # few rows that share a key. The planner setting is put back for the rest of the transaction.
        cursor.execute("SELECT current_setting('enable_seqscan')")
        (before,) = cursor.fetchone()
        cursor.execute("SELECT set_config('enable_seqscan', 'off', true)")
        try:
            cursor.execute(sql, [hashes, probe_keys(hashes, radius), image_id, max_distance, limit])
            return [(int(pk), int(d)) for pk, d in cursor.fetchall()]
        finally:
            cursor.execute("SELECT set_config('enable_seqscan', %s, true)", [before])
