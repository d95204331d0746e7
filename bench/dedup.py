"""Duplicate finding on COCO128: pair precision and recall per tier and per kind of change, and speed at 100k.

The evaluation set: the first ``--photos`` COCO128 photos, each stored untouched and as four
altered copies (re-encoded at JPEG quality 60, resized to half, cropped to the central 90 %,
brightened by 30 %), plus the remaining COCO128 photos untouched as unrelated photos. Every
photo is ingested into a throw-away dataset and grouped by the product's own code
(indexing.duplicates.matching.find_matches + indexing.duplicates.groups.link_image), in id order, as
the pipeline does. A true pair is two photos made from one original.

Printed: for each tier alone (the photos each photo matches directly) and for the groups
(all tiers, transitive), pair precision and recall, overall and per kind of change; a sweep
of DEDUP_PHASH_MAX_DISTANCE; then the time to hash a photo and to match one pHash in SQL
against ``--scale`` (100k) stored fingerprints.

    .venv/bin/python bench/dedup.py [--photos 64] [--scale 100000] [--semantic]

``--semantic`` also runs the detector and CLIP over the set (CLIP_MODEL; with the random test
CLIP the semantic numbers mean nothing). All rows are deleted afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from _setup import percentiles_ms, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from indexing.catalog import ingest  # noqa: E402
from indexing.catalog.stored_files import decode_stored_image  # noqa: E402
from indexing.duplicates import groups as duplicate_groups  # noqa: E402
from indexing.duplicates import matching as duplicates  # noqa: E402
from indexing.models import Dataset, DuplicateGroup, PhotoFingerprint, SourceImage, Tier  # noqa: E402
from indexing.pipeline import jobs  # noqa: E402
from indexing.vision.hashing import hamming, hamming_many, hash_photo  # noqa: E402
from tests.duplicate_photos import altered  # noqa: E402

CHANGES = ("jpeg60", "half", "crop90", "bright")
# Plus the same bytes uploaded again into a second dataset: the exact tier's case.
KINDS = (*CHANGES, "same-bytes")


def build_set(
    dataset: Dataset, again: Dataset, photos: list[Path], unrelated: list[Path]
) -> dict[int, tuple[str, str]]:
    """Ingest the set; image id -> (original's name, change or "original")."""
    truth: dict[int, tuple[str, str]] = {}
    for path in photos:
        variants = {"original": path.read_bytes(), **{c: altered(path, c) for c in CHANGES}}
        for change, data in variants.items():
            image, _ = ingest.ingest_image(dataset, f"{path.stem}-{change}.jpg", data)
            truth[image.pk] = (path.stem, change)
        image, _ = ingest.ingest_image(again, path.name, path.read_bytes())
        truth[image.pk] = (path.stem, "same-bytes")
    for path in unrelated:
        image, _ = ingest.ingest_image(dataset, path.name, path.read_bytes())
        truth[image.pk] = (path.stem, "unrelated")
    return truth


def true_pairs(truth: dict[int, tuple[str, str]]) -> set[frozenset[int]]:
    by_original: dict[str, list[int]] = defaultdict(list)
    for pk, (original, _) in truth.items():
        by_original[original].append(pk)
    return {frozenset(p) for ids in by_original.values() for p in itertools.combinations(ids, 2)}


def kind(pair: frozenset[int], truth) -> str:
    """The change a pair is about: the altered side's change ("original" for two untouched...)."""
    changes = sorted(truth[pk][1] for pk in pair)
    altered_side = [c for c in changes if c not in ("original", "unrelated")]
    if len(altered_side) == 2:
        return "copy-copy"
    return altered_side[0] if altered_side else "-".join(changes)


def report(name: str, predicted: set[frozenset[int]], truth, actual: set[frozenset[int]]) -> None:
    hits = predicted & actual
    precision = len(hits) / len(predicted) if predicted else 1.0
    recall = len(hits) / len(actual) if actual else 1.0
    cells = [f"{name:<22} all: P {precision:.3f} R {recall:.3f} ({len(predicted)} pairs)"]
    for change in (*KINDS, "copy-copy"):
        wanted = {p for p in actual if kind(p, truth) == change}
        found = {p for p in predicted if kind(p, truth) == change}
        p = len(found & actual) / len(found) if found else 1.0
        r = len(wanted & predicted) / len(wanted) if wanted else 1.0
        cells.append(f"{change}: P {p:.3f} R {r:.3f}")
    print("  ".join(cells))


def tier_pairs(ids: list[int], tier: str) -> set[frozenset[int]]:
    return {frozenset((pk, m.image_id)) for pk in ids for m in duplicates.find_matches(_image(pk), [tier])}


def _image(pk: int) -> SourceImage:
    return SourceImage.objects.get(pk=pk)


def group_pairs(ids: list[int]) -> set[frozenset[int]]:
    pairs = set()
    for group in DuplicateGroup.objects.filter(members__image_id__in=ids).distinct():
        members = list(group.members.values_list("image_id", flat=True))
        pairs |= {frozenset(p) for p in itertools.combinations(members, 2)}
    return pairs


def sweep(ids: list[int], truth, actual) -> None:
    hashes = dict(PhotoFingerprint.objects.filter(image_id__in=ids).values_list("image_id", "phash"))
    near = {p for p in actual if kind(p, truth) in ("jpeg60", "half")}
    print("DEDUP_PHASH_MAX_DISTANCE sweep (jpeg60 + half recall, precision over all predicted pairs):")
    for limit in (2, 4, 6, 8, 10, 12, 14, 16, 20):
        predicted = {frozenset(p) for p in itertools.combinations(ids, 2) if hamming(*(hashes[i] for i in p)) <= limit}
        precision = len(predicted & actual) / len(predicted) if predicted else 1.0
        recall_near = len(predicted & near) / len(near)
        recall_all = len(predicted & actual) / len(actual)
        print(f"  <= {limit:>2} bits: P {precision:.3f}  R(jpeg60+half) {recall_near:.3f}  R(all) {recall_all:.3f}")


def speed(photos: list[Path], scale: int) -> None:
    started = time.perf_counter()
    for path in photos:
        hash_photo(path.read_bytes())
    per_hash = (time.perf_counter() - started) / len(photos)
    dataset = Dataset.objects.create(name="bench-dedup-scale", version=str(time.time_ns()))
    try:
        rng = random.Random(0)
        step = 10_000
        for start in range(0, scale, step):
            n = min(step, scale - start)
            images = SourceImage.objects.bulk_create(
                SourceImage(dataset=dataset, sha256=f"{start + i:064x}", file=f"bench/{start + i}.jpg", status="done")
                for i in range(n)
            )
            PhotoFingerprint.objects.bulk_create(
                PhotoFingerprint(image=image, phash=rng.getrandbits(64) - 2**63) for image in images
            )
        seconds = []
        for _ in range(200):
            query = rng.getrandbits(64) - 2**63
            begun = time.perf_counter()
            duplicates.perceptual_matches(-1, query, settings.DEDUP_PHASH_MAX_DISTANCE)
            seconds.append(time.perf_counter() - begun)
        p50, p95 = percentiles_ms(seconds)
        # The same scan in process memory (numpy popcount), for comparison with SQL.
        stored = np.fromiter(
            PhotoFingerprint.objects.filter(image__dataset=dataset).values_list("phash", flat=True), np.int64
        )
        in_memory = []
        for _ in range(200):
            begun = time.perf_counter()
            np.flatnonzero(hamming_many(rng.getrandbits(64) - 2**63, stored) <= settings.DEDUP_PHASH_MAX_DISTANCE)
            in_memory.append(time.perf_counter() - begun)
        memory_p50, _ = percentiles_ms(in_memory)
        print(
            f"Speed: hash {per_hash * 1000:.1f} ms/photo (decode + pHash, COCO128 JPEGs); perceptual match against "
            f"{scale:,} fingerprints in SQL (bit_count): p50 {p50:.1f} ms, p95 {p95:.1f} ms; "
            f"hash + match ≈ {per_hash * 1000 + p50:.1f} ms/photo (the same scan in numpy: p50 {memory_p50:.2f} ms)"
        )
    finally:
        dataset.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=64, help="COCO128 photos altered (the rest are unrelated)")
    parser.add_argument("--scale", type=int, default=100_000, help="stored fingerprints for the speed test")
    parser.add_argument("--semantic", action="store_true", help="also run detector + CLIP (the semantic tier)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    images = sorted((Path(settings.SHARED_ASSETS_DIR) / "coco128" / "images" / "train2017").glob("*.jpg"))
    photos, unrelated = images[: args.photos], images[args.photos :]
    dataset = Dataset.objects.create(name="bench-dedup", version=str(time.time_ns()))
    again = Dataset.objects.create(name="bench-dedup-again", version=dataset.version)
    try:
        truth = build_set(dataset, again, photos, unrelated)
        ids = sorted(truth)
        for pk in ids:
            image = _image(pk)
            duplicates.store_fingerprint(image, decode_stored_image(image))
        if args.semantic:
            job, pending = jobs.create_job(dataset)
            jobs.run_job(job, pending)  # the pipeline: crops, photo vectors, groups
            job, pending = jobs.create_job(again)
            jobs.run_job(job, pending)
        else:
            for pk in ids:
                image = _image(pk)
                duplicate_groups.link_image(image, duplicates.find_matches(image))
        actual = true_pairs(truth)
        print(
            f"Set: {len(photos)} photos x (original + {len(CHANGES)} changes + same bytes elsewhere) + "
            f"{len(unrelated)} unrelated = "
            f"{len(ids)} photos, {len(actual)} true pairs; DEDUP_PHASH_MAX_DISTANCE={settings.DEDUP_PHASH_MAX_DISTANCE}"
        )
        report("exact", tier_pairs(ids, Tier.EXACT), truth, actual)
        report("perceptual", tier_pairs(ids, Tier.PERCEPTUAL), truth, actual)
        if args.semantic:
            report(f"semantic >= {settings.DEDUP_SEMANTIC_MIN_SCORE}", tier_pairs(ids, Tier.SEMANTIC), truth, actual)
        report("groups (all tiers)", group_pairs(ids), truth, actual)
        sweep(ids, truth, actual)
    finally:
        DuplicateGroup.objects.filter(members__image__dataset__in=[dataset, again]).delete()
        dataset.delete()
        again.delete()
    speed(images, args.scale)


if __name__ == "__main__":
    main()
