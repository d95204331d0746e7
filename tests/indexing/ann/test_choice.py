"""The ANN chooser: fastest configuration meeting the recall target and memory budget,
judged on the table bench/ann.py measured and the code ships (indexing/ann/ann_table.json)."""

from __future__ import annotations

import json
import logging
import math

import pytest

from indexing.ann import choice as ann_choice
from indexing.ann import faiss_index as ann

TABLE = ann_choice.load_table()
SIZES = sorted({r["size"] for r in TABLE["rows"]})


def row_for(n: int, config: ann.IndexConfig) -> dict:
    """The measured row the chooser's answer for ``n`` vectors stands on."""
    size = next((s for s in SIZES if s >= n), SIZES[-1])
    matches = [
        r
        for r in TABLE["rows"]
        if r["size"] == size
        and r["kind"].format(nlist=ann.ivf_lists(n)) == config.factory
        and r["params"] == config.params
    ]
    assert len(matches) == 1, (n, config)
    return matches[0]


def bucket(n: int) -> list[dict]:
    size = next((s for s in SIZES if s >= n), SIZES[-1])
    return [r for r in TABLE["rows"] if r["size"] == size]


def test_shipped_table_covers_every_kind_or_says_why_not():
    assert SIZES == [100_000, 1_000_000]
    for size in SIZES:
        measured = {r["kind"] for r in TABLE["rows"] if r["size"] == size}
        skipped = {s["kind"] for s in TABLE["skipped"] if s["size"] == size and s["reason"]}
        assert {"Flat", "IVF{nlist},SQ8"} <= measured, size
        assert {kind for kind, _ in ann_choice.SWEEPS} <= measured | skipped, size
    assert TABLE["machine"]["load_average_at_start"] and TABLE["extrapolated"]


@pytest.mark.parametrize("n", [30_000, 100_000, 400_000, 1_000_000, 3_000_000])
@pytest.mark.parametrize("target", [0.9, 0.95])
@pytest.mark.parametrize("budget", ["64GB", "8GB", "1GB"])
def test_chooser_meets_its_targets_with_the_fastest_row(n, target, budget, caplog):
    budget_bytes = ann_choice.parse_bytes(budget)
    samples = TABLE["queries_per_set"] * TABLE["k"]
    # Meeting the target by two standard errors of the table's recall, not by luck of the sample.
    surely = [
        r
        for r in bucket(n)
        if r["recall_in_dist"] - 2 * math.sqrt(r["recall_in_dist"] * (1 - r["recall_in_dist"]) / samples) >= target
    ]
    meeting = [r for r in surely if r["bytes_per_vector"] * n <= budget_bytes]
    with caplog.at_level(logging.WARNING, logger="indexing.ann.choice"):
        config = ann_choice.choose(n, recall_target=target, max_memory=budget)
    chosen = row_for(n, config)
    if not meeting:  # the table has no way to meet both: say so, and give the best recall that fits
        fitting = [r for r in bucket(n) if r["bytes_per_vector"] * n <= budget_bytes]
        assert "recall target missed" in caplog.text
        assert chosen["recall_in_dist"] == max(r["recall_in_dist"] for r in fitting)
        return
    assert chosen["recall_in_dist"] >= target
    assert chosen["bytes_per_vector"] * n <= budget_bytes
    assert chosen["p95_ms"] == min(r["p95_ms"] for r in meeting)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_recall_that_reaches_the_target_only_by_sampling_luck_does_not_count():
    assert not ann_choice.surely_reaches(0.956, 0.95, 2000)  # HNSW32 efSearch=64 at 1M: 0.947 by 2 SE
    assert ann_choice.surely_reaches(0.9625, 0.95, 2000)
    assert ann_choice.surely_reaches(1.0, 1.0, 2000)


def test_default_targets_are_met_at_a_million_without_warning(settings, caplog):
    settings.ANN_INDEX_KIND, settings.ANN_RECALL_TARGET, settings.ANN_MAX_INDEX_MEMORY = "auto", 0.95, "8GB"
    with caplog.at_level(logging.WARNING):
        config = ann_choice.choose_config(1_000_000)
    row = row_for(1_000_000, config)
    assert row["recall_in_dist"] >= 0.95 and row["bytes_per_vector"] * 1_000_000 <= 8e9
    assert config.factory != "Flat"  # exact search at 1M is slower than some row that meets 0.95
    assert ann_choice.choose_kind(1_000_000) == config.factory
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_tight_budget_picks_a_compact_kind():
    n, budget = 100_000, 10_000_000  # 100 bytes a vector: no room for 8- or 4-bit codes
    config = ann_choice.choose(n, recall_target=0.5, max_memory=budget)
    row = row_for(n, config)
    assert row["bytes_per_vector"] * n <= budget
    assert "PQ" in config.factory and "Refine" not in config.factory


def test_a_mid_budget_rules_out_flat_and_hnsw():
    n, budget = 100_000, "70MB"  # 700 bytes a vector
    config = ann_choice.choose(n, recall_target=0.9, max_memory=budget)
    assert config.factory.startswith("IVF")
    assert row_for(n, config)["bytes_per_vector"] * n <= 70e6


def test_an_impossible_target_warns_and_picks_the_most_accurate_that_fits(caplog):
    n, budget = 100_000, "100MB"  # Flat and HNSW do not fit; nothing else is exact
    with caplog.at_level(logging.WARNING, logger="indexing.ann.choice"):
        config = ann_choice.choose(n, recall_target=0.9999, max_memory=budget)
    fitting = [r for r in bucket(n) if r["bytes_per_vector"] * n <= 100e6]
    assert config.factory != "Flat" and "HNSW" not in config.factory
    assert row_for(n, config)["recall_in_dist"] == max(r["recall_in_dist"] for r in fitting)
    assert "recall target missed" in caplog.text


def test_a_budget_nothing_fits_warns_and_picks_the_smallest(caplog):
    with caplog.at_level(logging.WARNING, logger="indexing.ann.choice"):
        config = ann_choice.choose(1_000_000, max_memory="1MB")
    assert row_for(1_000_000, config)["bytes_per_vector"] == min(r["bytes_per_vector"] for r in bucket(1_000_000))
    assert "memory budget missed" in caplog.text


def test_small_collections_use_exact_search_and_a_forced_kind_wins(settings):
    settings.ANN_INDEX_KIND = "auto"
    assert ann_choice.choose_config(5_000) == ann.IndexConfig("Flat")
    settings.ANN_INDEX_KIND = "HNSW16"
    assert ann_choice.choose_config(5_000_000) == ann.IndexConfig("HNSW16")


def test_ivf_list_count_scales_with_the_collection():
    small = ann_choice.choose(50_000, recall_target=0.9, max_memory="20MB")
    large = ann_choice.choose(3_000_000, recall_target=0.9, max_memory="2GB")
    assert small.factory.startswith(f"IVF{ann.ivf_lists(50_000)},")
    assert large.factory.startswith(f"IVF{ann.ivf_lists(3_000_000)},")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8GB", 8 * 10**9), ("512MiB", 512 * 2**20), ("1.5 GB", 1_500_000_000), ("123456", 123456), (77, 77)],
)
def test_memory_budgets_parse(text, expected):
    assert ann_choice.parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["eight gigs", "8 GX", "-1GB", ""])
def test_a_bad_memory_budget_is_a_clear_error(text):
    with pytest.raises(ValueError, match="ANN_MAX_INDEX_MEMORY"):
        ann_choice.parse_bytes(text)


def test_a_row_measured_on_several_distributions_counts_at_its_worst(tmp_path):
    row = {"size": 1_000_000, "kind": "HNSW32", "params": {"efSearch": 64}, "p50_ms": 0.1, "bytes_per_vector": 2328}
    hard = {**row, "recall_in_dist": 0.91, "p95_ms": 0.3, "distribution": "loose"}
    easy = {**row, "recall_in_dist": 0.99, "p95_ms": 0.1, "distribution": "bench"}
    other = {**row, "kind": "IVF{nlist},SQ8", "params": {"nprobe": 8}, "recall_in_dist": 0.98, "p95_ms": 0.6}
    path = tmp_path / "table.json"
    path.write_text(json.dumps({"rows": [easy, hard, other], "queries_per_set": 200, "k": 10}))
    (merged,) = [r for r in ann_choice.load_table(path)["rows"] if r["kind"] == "HNSW32"]
    assert merged["recall_in_dist"] == 0.91 and merged["p95_ms"] == 0.3
    assert sorted(merged["distributions"]) == ["bench", "loose"]
    # Easy on one distribution, short of the target on another: the chooser takes the kind that holds on both.
    config = ann_choice.choose(1_000_000, recall_target=0.95, max_memory="8GB", table=ann_choice.load_table(path))
    assert config.factory.endswith(",SQ8")


def test_ranked_configs_start_with_the_choice_and_list_each_kind_once():
    ranked = ann_choice.ranked_configs(1_000_000, recall_target=0.95, max_memory="8GB")
    assert ranked[0] == ann_choice.choose(1_000_000, recall_target=0.95, max_memory="8GB")
    assert len({c.factory for c in ranked}) == len(ranked) > 3
