"""Bulk reads of crop embeddings straight from PostgreSQL's binary format.

The ORM returns each vector as a Python list parsed from text: fine for one row,
far too slow for the hundreds of thousands an index build reads. Here rows come
in binary (pgvector: uint16 dim, uint16 unused, dim big-endian float32) and are
decoded with numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import psycopg
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from pgvector.django import CosineDistance

from indexing.models import Crop, StagedEmbedding

CHUNK_ROWS = 20_000


def decode_vector(data: bytes) -> np.ndarray:
    dim = int.from_bytes(data[:2], "big")
    return np.frombuffer(data, dtype=">f4", count=dim, offset=4)


def iter_active_vectors(
    crops: QuerySet[Crop] | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (ids int64, vectors float32) chunks of the active crops (of ``crops`` when given), by id."""
    where, params = "is_active", []
    if crops is not None:
        subquery, params = crops.values("pk").query.sql_with_params()
        where = f"is_active AND id IN ({subquery})"
    select = f"SELECT id, embedding FROM {Crop._meta.db_table} WHERE {where} AND id > %s ORDER BY id LIMIT %s"
    yield from iter_vector_rows(select, list(params), chunk_rows)


def load_staged_vectors(*, version: str) -> tuple[np.ndarray, np.ndarray]:
    """The active crops' (ids, vectors) of embedder ``version``: staged by a re-embed, or their own if already of it.

    What the index a re-embed switches to is built from (indexing.model_changes.reembed).
    """
    crops = Crop._meta.db_table
    select = (
        f"SELECT id, embedding FROM (SELECT s.crop_id AS id, s.embedding FROM {StagedEmbedding._meta.db_table} s "
        f"JOIN {crops} c ON c.id = s.crop_id WHERE c.is_active AND s.version = %s "
        f"UNION ALL SELECT id, embedding FROM {crops} WHERE is_active AND embedder_version = %s) v "
        "WHERE id > %s ORDER BY id LIMIT %s"
    )
    return concatenated(iter_vector_rows(select, [version, version], CHUNK_ROWS))


def iter_vector_rows(select: str, params: list, chunk_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Run ``select`` (id, vector; its last two parameters: after this id, at most this many) chunk by chunk."""
    last_id = 0
    connection.ensure_connection()
    # Django's cursors bind parameters client-side, which rules out binary results.
    with psycopg.Cursor(connection.connection) as raw:
        while True:
            raw.execute(select, [*params, last_id, chunk_rows], binary=True)
            rows = raw.fetchall()
            if not rows:
                return
            ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            vectors = np.stack([decode_vector(bytes(row[1])) for row in rows]).astype(np.float32)
            yield ids, vectors
            last_id = int(ids[-1])


def load_active_vectors(crops: QuerySet[Crop] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The active crops' (ids, vectors), of ``crops`` when given; empty arrays when there are none."""
    return concatenated(iter_active_vectors(crops))


def concatenated(chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    chunks = list(chunks)
    if not chunks:
        return np.empty(0, dtype=np.int64), np.empty((0, Crop._meta.get_field("embedding").dimensions), np.float32)
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def exact_nearest(crops: QuerySet[Crop], vector: np.ndarray, k: int) -> list[Crop]:
    """The ``k`` crops of ``crops`` nearest to ``vector`` by cosine, exactly, each with ``.distance``.

    There is no ANN index on the embedding (indexing.models), so PostgreSQL filters
    first (label, id and dataset indexes) and ranks every row that passes.
    """
    return list(crops.annotate(distance=CosineDistance("embedding", vector)).order_by("distance", "pk")[:k])


def nearest_ids(crops: QuerySet[Crop], vector: np.ndarray, k: int) -> dict[int, float]:
    """Cosine similarity of the ``k`` crops of ``crops`` nearest to ``vector``, ranked in SQL: {id: score}."""
    ranked = crops.annotate(distance=CosineDistance("embedding", vector)).order_by("distance", "pk")
    return {pk: 1.0 - float(distance) for pk, distance in ranked.values_list("pk", "distance")[:k]}


# Store transactions hold this lock shared; reading the newest stored id holds it alone, so
# no crop with a smaller id can commit after an index build has read it (and be missed).
STORE_LOCK = 0x56530002


def lock_for_store() -> None:
    """In the store step's transaction: index writers wait for it to commit before reading ids."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [STORE_LOCK])


def newest_stored_crop_id() -> int:
    """The largest crop id, once every store transaction in flight has committed."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [STORE_LOCK])
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {Crop._meta.db_table}")
        return int(cursor.fetchone()[0])


# The columns copy_crop_rows writes, in order, with their binary COPY types.
COPY_COLUMNS = (
    ("image_id", "int8"),
    ("label", "text"),
    ("confidence", "float8"),
    ("x1", "float8"),
    ("y1", "float8"),
    ("x2", "float8"),
    ("y2", "float8"),
    ("file", "text"),
    ("embedding", "vector"),
    ("detector_version", "text"),
    ("embedder_version", "text"),
    ("is_active", "bool"),
    ("created", "timestamptz"),
)


def copy_crop_rows(rows: Iterable[tuple]) -> None:
    """Insert crop rows (values in COPY_COLUMNS order, embedding a float32 array) with binary COPY.

    The store step's write path: vectors travel as 2 KB of binary each instead of
    ~9 KB of text parsed by PostgreSQL, one statement for a whole batch. Runs in the
    caller's transaction.
    """
    from pgvector.psycopg.vector import register_vector_info
    from psycopg.types import TypeInfo

    connection.ensure_connection()
    names = ", ".join(name for name, _ in COPY_COLUMNS)
    statement = f"COPY {Crop._meta.db_table} ({names}) FROM STDIN WITH (FORMAT BINARY)"
    with psycopg.Cursor(connection.connection) as raw:
        # On this cursor only: Django's own queries keep reading vectors as they expect.
        register_vector_info(raw, TypeInfo.fetch(connection.connection, "vector"))
        with raw.copy(statement) as copy:
            copy.set_types([kind for _, kind in COPY_COLUMNS])
            for row in rows:
                copy.write_row(row)


def copy_crops(*, image_id: int | Iterable[int], vectors: np.ndarray, labels: list[str], version: str) -> int:
    """Bulk-load crops (benchmarks, imports): empty file names, unit boxes.

    ``image_id``: one photo for every crop, or each crop's photo (a collection's layout: a few
    crops a photo, which is what the planner's joins over photos see in a real database).
    """
    now = timezone.now()
    photos = [image_id] * len(vectors) if isinstance(image_id, int) else [int(i) for i in image_id]
    with transaction.atomic():
        copy_crop_rows(
            (photo, label, 0.9, 0.0, 0.0, 1.0, 1.0, "", vector, version, version, True, now)
            for photo, vector, label in zip(photos, vectors, labels, strict=True)
        )
    return len(vectors)
