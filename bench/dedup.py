"""Near-duplicate finding on COCO128: pair precision and recall per kind of edit, a threshold sweep, scale.

The set (tests/duplicate_photos.py makes the edits): the first ``--photos`` COCO128 photos, each
stored untouched, with the 20 edits of CHANGES (re-encodings, resizes, mirror, quarter turns and
a 4-degree turn, letterbox / screenshot / coloured borders, crops to 90, 80, 70 and 60 %, text, a
watermark, greyscale, colour shifts, a re-encoding chain) and again as the same bytes in a second
dataset; the other COCO128 photos are unrelated photos (several of the same scene types). A true
pair is two photos made from one original. Photos are split in two halves (even and odd
originals, and the unrelated ones alike): knobs are chosen on the first ("tune") and reported on
both; the second ("held out") never chose anything.

Printed: the sweep of the perceptual distance, probe radius, least inliers and calls per photo
(on the tune half); the table of groups' pair precision and recall, overall and per edit, for the
old tier (one pHash, d <= 10), the new tiers with the chosen knobs, the product's own run
(find_matches + link_image, as recompute does) and imagededup's PHash and DHash on the same
files; then the per-photo cost and the scale part (bench/lib/dedup_scale.py).

    .venv/bin/python bench/dedup.py [--photos 48] [--scale 100000,1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from lib.setup import percentiles_ms, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from lib import dedup_eval as ev  # noqa: E402
from lib import dedup_scale as _dedup_scale  # noqa: E402

from indexing.catalog import ingest  # noqa: E402
from indexing.catalog.stored_files import decode_stored_image  # noqa: E402
from indexing.duplicates import fingerprints, verification  # noqa: E402
from indexing.duplicates import groups as duplicate_groups  # noqa: E402
from indexing.duplicates import matching as duplicates  # noqa: E402
from indexing.models import Dataset, DuplicateGroup, SourceImage  # noqa: E402
from tests.duplicate_photos import CHANGES, altered  # noqa: E402

KINDS = (*CHANGES, "same-bytes")
GRID = {"d": (4, 6, 8, 10, 12, 14), "radius": (0, 1), "inliers": (10, 15, 20, 25, 30, 40), "calls": (0, 4, 8, 12)}


def build_set(dataset, again, photos, unrelated, folder: Path) -> tuple[dict, dict[str, int]]:
    """Ingest the set and write each photo to ``folder`` (for imagededup); image id -> (original, change, half)."""
    truth, pk_of = {}, {}

    def add(target, name, data, original, change, half):
        image, _ = ingest.ingest_image(target, name, data)
        truth[image.pk] = (original, change, half)
        (folder / f"{image.pk}.jpg").write_bytes(data)
        pk_of[f"{image.pk}.jpg"] = image.pk

    for n, path in enumerate(photos):
        add(dataset, path.name, path.read_bytes(), path.stem, "original", n % 2)
        for change in CHANGES:
            add(dataset, f"{path.stem}-{change}.jpg", altered(path, change), path.stem, change, n % 2)
        add(again, path.name, path.read_bytes(), path.stem, "same-bytes", n % 2)
    for n, path in enumerate(unrelated):
        add(dataset, path.name, path.read_bytes(), path.stem, "unrelated", n % 2)
    return truth, pk_of


def true_pairs(truth, subset) -> ev.Pairs:
    by_original: dict[str, list[int]] = {}
    for pk in subset:
        by_original.setdefault(truth[pk][0], []).append(pk)
    return {frozenset((a, b)) for ids in by_original.values() for a in ids for b in ids if a < b}


def scores(predicted: ev.Pairs, actual: ev.Pairs, truth) -> tuple[float, float, dict[str, float]]:
    hits = predicted & actual
    precision = len(hits) / len(predicted) if predicted else 1.0
    recall = len(hits) / len(actual) if actual else 1.0
    per_kind = {}
    for change in KINDS:  # did each copy with this edit end up grouped with its original?
        wanted = {p for p in actual if sorted(truth[pk][1] for pk in p) == sorted(("original", change))}
        per_kind[change] = len(wanted & predicted) / len(wanted) if wanted else 1.0
    return precision, recall, per_kind


def row(name: str, predicted, actual, truth) -> str:
    p, r, kinds = scores(predicted, actual, truth)
    return (
        f"| {name} | {p:.3f} | {r:.3f} | {min(kinds.values()):.2f} | "
        + " | ".join(f"{kinds[k]:.2f}" for k in KINDS)
        + " |"
    )


def choose(evidence, subset, actual, truth) -> dict[str, int]:
    """The highest recall at precision >= 0.99 on ``subset`` (then the best worst kind); among the ties the
    cheapest (radius 0, fewest verification calls), then the middle of the tied inlier and distance ranges,
    which leaves a margin on both sides of each threshold."""
    results = {}
    for d in GRID["d"]:
        for radius in GRID["radius"]:
            for calls in GRID["calls"]:
                for inliers in GRID["inliers"] if calls else (0,):
                    found = ev.simulate(evidence, subset, d, radius, inliers, calls)
                    results[(d, radius, inliers, calls)] = scores(found, actual, truth)
    fine = {k: (round(r, 3), round(min(kinds.values()), 2)) for k, (p, r, kinds) in results.items() if p >= 0.99}
    top = max(fine.values())
    tied = [k for k, v in fine.items() if v == top]
    radius = min(k[1] for k in tied)
    calls = min(k[3] for k in tied if k[1] == radius)
    tied = [k for k in tied if k[1] == radius and k[3] == calls]
    inliers = sorted({k[2] for k in tied})[len({k[2] for k in tied}) // 2]
    ds = sorted({k[0] for k in tied if k[2] == inliers})
    knobs = {"d": ds[len(ds) // 2], "radius": radius, "inliers": inliers, "calls": calls}
    print("Sweep on the tune half (groups' pairs P / R, worst kind's R), one knob at a time around the chosen:")
    lines = {
        "d (perceptual only, radius 0)": [((d, 0, 0, 0), f"d<={d}") for d in GRID["d"]],
        "d (perceptual only, radius 1)": [((d, 1, 0, 0), f"d<={d}") for d in GRID["d"]],
        "least inliers": [((knobs["d"], radius, n, calls), f">={n}") for n in GRID["inliers"]],
        "calls per photo": [((knobs["d"], radius, inliers if c else 0, c), f"{c}") for c in GRID["calls"]],
    }
    for name, cells in lines.items():
        shown = []
        for key, label in cells:
            p, r, kinds = results[key]
            shown.append(f"{label}: {p:.3f}/{r:.3f}/{min(kinds.values()):.2f}")
        print(f"  {name:<30} " + "  ".join(shown))
    print(f"Chosen (P >= 0.99, recall {top[0]:.3f}, worst kind {top[1]:.2f}): {knobs}")
    return knobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=48, help="COCO128 photos edited (the rest are unrelated)")
    parser.add_argument("--scale", default="100000,1000000", help="stored fingerprints for the speed part ('' skips)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    images = sorted((Path(settings.SHARED_ASSETS_DIR) / "coco128" / "images" / "train2017").glob("*.jpg"))
    photos, unrelated = images[: args.photos], images[args.photos :]
    dataset = Dataset.objects.create(name="bench-dedup", version=str(time.time_ns()))
    again = Dataset.objects.create(name="bench-dedup-again", version=dataset.version)
    folder = Path(tempfile.mkdtemp(prefix="dedup-bench-"))
    try:
        truth, pk_of = build_set(dataset, again, photos, unrelated, folder)
        ids = sorted(truth)
        began = time.perf_counter()
        for pk in ids:
            image = SourceImage.objects.get(pk=pk)
            fingerprints.store(image, fingerprints.compute(decode_stored_image(image)))
        fingerprint_ms = (time.perf_counter() - began) * 1000 / len(ids)
        evidence = ev.collect(ids)
        halves = {h: {pk for pk in ids if truth[pk][2] == h} for h in (0, 1)}
        actual = {h: true_pairs(truth, halves[h]) for h in (0, 1)}
        print(
            f"Set: {len(photos)} photos x (original + {len(CHANGES)} edits + same bytes) + {len(unrelated)} unrelated "
            f"= {len(ids)} photos; true pairs: tune {len(actual[0])}, held out {len(actual[1])}"
        )
        shipped = {
            "d": settings.DEDUP_PHASH_MAX_DISTANCE,
            "radius": settings.DEDUP_PHASH_PROBE_RADIUS,
            "inliers": settings.DEDUP_VERIFY_MIN_INLIERS,
            "calls": settings.DEDUP_VERIFY_MAX_CALLS,
        }
        knobs = choose(evidence, halves[0], actual[0], truth)
        print(f"Shipped defaults (settings): {shipped}" + (" (the same)" if shipped == knobs else " (they differ)"))
        ranks = ev.original_ranks(evidence, truth, ("crop90", "crop80", "crop70", "crop60", "rot4", "watermark"))
        print(
            "Shortlist alone: share of copies whose original is among the N nearest descriptors of all "
            f"{len(ids)} photos but their siblings:"
        )
        for change, found in ranks.items():
            within = "  ".join(f"top {n}: {np.mean(np.array(found) <= n):.2f}" for n in (1, 4, 8, 12))
            print(f"  {change:<9} {within}  (worst rank {max(found)})")
        settings.DEDUP_PHASH_MAX_DISTANCE, settings.DEDUP_PHASH_PROBE_RADIUS = knobs["d"], knobs["radius"]
        settings.DEDUP_VERIFY_MIN_INLIERS, settings.DEDUP_VERIFY_MAX_CALLS = knobs["inliers"], knobs["calls"]
        seconds = []
        verification.stats.update(photos=0, calls=0)
        for pk in ids:  # the product's own path, as recompute_dataset runs it
            image = SourceImage.objects.get(pk=pk)
            begun = time.perf_counter()
            duplicate_groups.link_image(image, duplicates.find_matches(image))
            seconds.append(time.perf_counter() - begun)
        dedup = ev.imagededup_pairs(folder, pk_of, set(ids))
        header = "| method | P | R | worst kind | " + " | ".join(KINDS) + " |"
        for h, name in ((0, "tune half"), (1, "held-out half")):
            subset, wanted = halves[h], actual[h]
            print(f"\n{name}: {len(subset)} photos, {len(wanted)} true pairs\n{header}\n|" + "---|" * (len(KINDS) + 4))
            print(row("old: one pHash, d <= 10", ev.simulate(evidence, subset, 10, 64, 0, 0, old=True), wanted, truth))
            print(
                row(
                    f"perceptual only (d <= {knobs['d']}, radius {knobs['radius']})",
                    ev.simulate(evidence, subset, knobs["d"], knobs["radius"], 0, 0),
                    wanted,
                    truth,
                )
            )
            print(
                row(
                    "perceptual + verified (chosen)",
                    ev.simulate(evidence, subset, knobs["d"], knobs["radius"], knobs["inliers"], knobs["calls"]),
                    wanted,
                    truth,
                )
            )
            print(row("product run (groups in SQL)", {p for p in group_pairs(ids) if p <= subset}, wanted, truth))
            for method, by_t in dedup.items():
                tuned = max(
                    by_t,
                    key=lambda t: (
                        scores({p for p in by_t[t] if p <= halves[0]}, actual[0], truth)[0] >= 0.99,
                        scores({p for p in by_t[t] if p <= halves[0]}, actual[0], truth)[1],
                    ),
                )
                print(row(f"imagededup {method} (d <= 10)", {p for p in by_t[10] if p <= subset}, wanted, truth))
                print(
                    row(
                        f"imagededup {method} (d <= {tuned}, tuned)",
                        {p for p in by_t[tuned] if p <= subset},
                        wanted,
                        truth,
                    )
                )
        p50, p95 = percentiles_ms(seconds)
        per_photo = verification.stats["calls"] / len(ids)
        verified_photos = verification.stats["photos"]
        print(
            f"\nCost per photo ({len(ids)} photos stored): fingerprint {fingerprint_ms:.1f} ms "
            "(decode + 8 orientations x 2 frames + borders + descriptor); "
            f"match (all tiers, in SQL) p50 {p50:.1f} ms, p95 {p95:.1f} ms; "
            f"verification ran for {verified_photos} photos, {per_photo:.2f} calls per photo "
            f"(max {knobs['calls']}), {evidence.verify_ms:.1f} ms a call"
        )
    finally:
        DuplicateGroup.objects.filter(members__image__dataset__in=[dataset, again]).delete()
        dataset.delete()
        again.delete()
    if args.scale:
        _dedup_scale.measure([int(s) for s in args.scale.split(",")])


def group_pairs(ids: list[int]) -> ev.Pairs:
    pairs = set()
    for group in DuplicateGroup.objects.filter(members__image_id__in=ids).distinct():
        members = list(group.members.values_list("image_id", flat=True))
        pairs |= {frozenset((a, b)) for a in members for b in members if a < b}
    return pairs


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.stdout.reconfigure(line_buffering=True)  # each table row as it is made, also into a file
    main()
