"""Text search with full-text fusion off beside on, over synthetic descriptions (bench/search.py --fusion).

Every crop of the collection gets one description, written by one INSERT ... SELECT (the
way the bench's crops are COPY'd in bulk; PostgreSQL computes the tsvector column): 6 to
24 words each (a chat model's sentence is 10-20), drawn from a vocabulary of VOCABULARY
words with Zipf frequencies (the word of rank r is drawn in proportion to 1/r), so the
commonest word is in most descriptions and a tail word in a few hundred of 100k.

Queries are typed as a search box gets them, two words each, of three kinds:
- common: two of the 20 most frequent words (each matches many descriptions);
- mixed: one of those and one of ranks 100-500;
- rare: two words past rank 500 (few matches, often none with both).
Each query is timed as search_text runs it after the CLIP text model: SEARCH_TEXT_FUSION
off (search.query.paging) and rrf (search.query.text.fusion), the same query vectors
both ways, a page of K results.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from django.db import connection

from indexing.models import Description
from search.query import paging
from search.query.filters import NO_FILTER
from search.query.index_cache import index_holder
from search.query.text import fusion
from search.query.text.words import text_query

from .setup import mixture_with_clusters, percentiles_ms

K = 12
MODEL = "bench-fusion"
VOCABULARY = 2000
REAL_WORDS = (
    "red blue green black white grey yellow orange brown silver pink purple dark light striped "
    "car truck bus bicycle motorcycle person man woman child dog cat horse bird umbrella backpack handbag "
    "bench bottle cup chair table phone laptop book clock vase kite skateboard surfboard ball hat jacket "
    "shirt dress coat helmet bag box sign light pole tree grass road street park station shop beach field "
    "crossing garden bridge window door wall roof wheel seat basket rider driver parked moving standing "
    "sitting walking running holding carrying wearing small large old new wet dented shiny rusty wooden "
    "metal plastic leather round square tall short empty crowded sunny rainy snowy night morning evening"
)
SYLLABLES = "ka lo mi ne ru sa to vi ze po da fe gu hi jo ku la me no pi"


def vocabulary() -> list[str]:
    """VOCABULARY distinct words, most frequent first: the real ones, then made-up ones (as rare names are)."""
    words = list(dict.fromkeys(REAL_WORDS.split()))
    syllables = SYLLABLES.split()
    rng = np.random.default_rng(21)
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(syllables, size=int(rng.integers(2, 4))))
        if word not in words:
            words.append(word)
    return words


def store_descriptions(words: list[str]) -> None:
    """One description per crop (unless a kept database has them), generated in SQL; then ANALYZE."""
    if Description.objects.filter(model=MODEL).exists():
        print(f"descriptions of the kept database: {Description.objects.filter(model=MODEL).count()}")
        return
    started = time.perf_counter()
    table = Description._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_vocab (rank int PRIMARY KEY, word text)")
        cursor.executemany("INSERT INTO bench_vocab VALUES (%s, %s)", list(enumerate(words, start=1)))
        cursor.execute("SELECT setseed(0.21)")
        # Rank floor(exp(u * ln(n + 1))), u uniform: P(rank r) ~ ln((r + 1) / r), Zipf's 1/r. The
        # subquery names c.id, so it is evaluated per crop (its length and its random words).
        cursor.execute(
            f"""
            INSERT INTO {table} (crop_id, text, model, prompt, created)
            SELECT c.id,
                   (SELECT string_agg(v.word, ' ')
                      FROM (SELECT floor(exp(random() * ln(%(n)s + 1)))::int AS rank
                              FROM generate_series(1, 6 + (c.id * 7919) %% 19)) AS drawn
                      JOIN bench_vocab v ON v.rank = least(drawn.rank, %(n)s)),
                   %(model)s, '', now()
              FROM indexing_crop c
            """,
            {"n": len(words), "model": MODEL},
        )
        cursor.execute("DROP TABLE bench_vocab")
        cursor.execute("ANALYZE")  # the statistics autovacuum would gather: plans as in a live database
    count = Description.objects.filter(model=MODEL).count()
    print(f"generated {count} descriptions in SQL in {time.perf_counter() - started:.0f} s")


def queries_of(words: list[str], count: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(22)

    def pick(low: int, high: int) -> str:
        return str(rng.choice(words[low:high]))

    return {
        "common": [f"{pick(0, 20)} {pick(0, 20)}" for _ in range(count)],
        "mixed": [f"{pick(0, 20)} {pick(100, 500)}" for _ in range(count)],
        "rare": [f"{pick(500, len(words))} {pick(500, len(words))}" for _ in range(count)],
    }


def rankers(version: str) -> tuple[Callable, Callable]:
    """One page of K for a query's vector and words: SEARCH_TEXT_FUSION off, and rrf."""

    def off(vector, text):
        return paging.pages(vector[None, :], version=version, k=K, offset=0, crop_filter=NO_FILTER, min_score=None)

    def rrf(vector, text):
        return fusion.fused_page(text, vector, version=version, k=K, offset=0, crop_filter=NO_FILTER, min_score=None)

    return off, rrf


def latency_ms(call: Callable, vectors, texts: list[str]) -> tuple[float, float]:
    """p50 and p95 ms of ``call`` over the queries, one at a time, after one warm-up call."""
    call(vectors[0], texts[0])  # map the index, warm the caches
    times = []
    for vector, text in zip(vectors, texts, strict=True):
        started = time.perf_counter()
        call(vector, text)
        times.append(time.perf_counter() - started)
    return percentiles_ms(times)


def fusion_latency(*, queries: int, version: str) -> None:
    """Print text-search p50/p95 with SEARCH_TEXT_FUSION off beside rrf, per kind of query."""
    words = vocabulary()
    store_descriptions(words)
    vectors = mixture_with_clusters(queries, seed=6)[0]
    total = Description.objects.filter(model=MODEL).count()
    index_holder.reset()

    off, rrf = rankers(version)

    def timed(call, texts: list[str]) -> tuple[float, float]:
        return latency_ms(call, vectors, texts)

    kinds = queries_of(words, queries)
    print(f"\ntext search, full-text fusion off beside on ({queries} queries of each kind, a page of {K}):")
    p50, p95 = timed(off, kinds["common"])  # off reads the vectors alone: the words make no difference
    print(f"  SEARCH_TEXT_FUSION=off                                       p50 {p50:7.2f} ms  p95 {p95:7.2f} ms")
    for kind, texts in kinds.items():
        matched = [Description.objects.filter(search=text_query(t)).count() for t in texts[:10]]
        share = float(np.median(matched)) / max(total, 1)
        p50, p95 = timed(rrf, texts)
        print(
            f"  SEARCH_TEXT_FUSION=rrf, {kind:6} queries ({share:6.2%} match, median)  "
            f"p50 {p50:7.2f} ms  p95 {p95:7.2f} ms"
        )
