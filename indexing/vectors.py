"""Bulk reads of crop embeddings straight from PostgreSQL's binary format.

The ORM returns each vector as a Python list parsed from text: fine for one row,
far too slow for the hundreds of thousands an index build reads. Here rows come
in binary (pgvector: uint16 dim, uint16 unused, dim big-endian float32) and are
decoded with numpy.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
from django.db import connection, transaction
from django.db.models import QuerySet
from pgvector.django import CosineDistance

from indexing.models import Crop

CHUNK_ROWS = 20_000


def decode_vector(data: bytes) -> np.ndarray:
    dim = int.from_bytes(data[:2], "big")
    return np.frombuffer(data, dtype=">f4", count=dim, offset=4)


def iter_active_vectors(chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (ids int64, vectors float32) chunks of all active crops, by id."""
    table = Crop._meta.db_table
    last_id = 0
    connection.ensure_connection()
    # Django's cursors bind parameters client-side, which rules out binary results.
    with psycopg.Cursor(connection.connection) as raw:
        while True:
            raw.execute(
                f"SELECT id, embedding FROM {table} WHERE is_active AND id > %s ORDER BY id LIMIT %s",
                [last_id, chunk_rows],
                binary=True,
            )
            rows = raw.fetchall()
            if not rows:
                return
            ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            vectors = np.stack([decode_vector(bytes(row[1])) for row in rows]).astype(np.float32)
            yield ids, vectors
            last_id = int(ids[-1])


def load_active_vectors() -> tuple[np.ndarray, np.ndarray]:
    """All active crops' (ids, vectors); empty arrays when there are none."""
    chunks = list(iter_active_vectors())
    if not chunks:
        return np.empty(0, dtype=np.int64), np.empty((0, Crop._meta.get_field("embedding").dimensions), np.float32)
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def exact_nearest(crops: QuerySet[Crop], vector: np.ndarray, k: int) -> list[Crop]:
    """The ``k`` crops of ``crops`` nearest to ``vector`` by cosine, exactly, each with ``.distance``.

    Index scans are off for this one query: pgvector's HNSW scan (0.6) hands back at
    most ef_search rows before the WHERE filters run, and counts rows deleted or rolled
    back since the last vacuum among them, so an indexed ORDER BY ... LIMIT k can return
    fewer than k rows although k match.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_indexscan = off")
        return list(crops.annotate(distance=CosineDistance("embedding", vector)).order_by("distance", "pk")[:k])
