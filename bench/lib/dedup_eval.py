"""bench/dedup.py's evaluation: every pair's evidence once, then any setting's groups without rerunning.

``collect`` reads, for every ordered pair of the set's photos, what the perceptual tier sees
(least Hamming distance from one photo's 16 variants to the other's stored hashes, and the
least chunk distance, which says whether the GIN lookup reaches the row at a probe radius),
and for every photo its verification shortlist (DEDUP_VERIFY_MAX_CALLS at most ``MAX_SHORTLIST``)
with each candidate's RANSAC inlier count. ``simulate`` then builds the groups the product's
rules make for given knobs: exact and perceptual edges, verification only for a photo that no
hash edge explains, groups as connected components (as link_image merges them).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexing.catalog.stored_files import decode_stored_image
from indexing.duplicates import features, multi_index, verification
from indexing.models import PhotoFingerprint, SourceImage

MAX_SHORTLIST = 12
Pairs = set[frozenset[int]]


@dataclass
class Evidence:
    ids: list[int]
    distance: np.ndarray  # [i, j]: least bits from i's variants to j's stored hashes
    chunk: np.ndarray  # [i, j]: least bits in one 16-bit chunk at one position (the index's reach)
    plain: np.ndarray  # [i, j]: the old tier's distance, own pHash to own pHash
    same: np.ndarray  # [i, j]: the same bytes (sha256)
    shortlist: dict[int, list[tuple[int, int]]]  # photo -> [(candidate, inliers)], nearest descriptor first
    verify_ms: float  # mean time of one verification call (decode + ORB of the candidate + match + RANSAC)
    descriptors: np.ndarray  # (n, 64) unit colour descriptors


def _popcount(values: np.ndarray) -> np.ndarray:
    return np.bitwise_count(values)


def collect(ids: list[int]) -> Evidence:
    rows = {f.image_id: f for f in PhotoFingerprint.objects.filter(image_id__in=ids)}
    variants = np.array([(rows[i].variant_hashes * 16)[:16] for i in ids], dtype=np.int64).view(np.uint64)
    stored = np.array([[rows[i].phash, rows[i].trimmed_phash] for i in ids], dtype=np.int64).view(np.uint64)
    n = len(ids)
    distance = np.zeros((n, n), dtype=np.int16)
    chunk = np.zeros((n, n), dtype=np.int16)
    for i in range(n):
        xor = variants[i][:, None, None] ^ stored[None, :, :]  # (16, n, 2)
        distance[i] = _popcount(xor).min(axis=(0, 2))
        parts = [(xor >> np.uint64(16 * k)) & np.uint64(0xFFFF) for k in range(multi_index.CHUNKS)]
        chunk[i] = np.min([_popcount(p).min(axis=(0, 2)) for p in parts], axis=0)
    own = stored[:, 0]
    plain = _popcount(own[:, None] ^ own[None, :]).astype(np.int16)
    images = {im.pk: im for im in SourceImage.objects.filter(pk__in=ids)}
    began = time.perf_counter()
    points = {pk: features.keypoints(decode_stored_image(images[pk])) for pk in ids}
    decode_ms = (time.perf_counter() - began) * 1000 / n
    shortlist: dict[int, list[tuple[int, int]]] = {}
    began, calls = time.perf_counter(), 0
    for pk in ids:
        found = []
        for other in verification.shortlist(pk, rows[pk].descriptor, [], MAX_SHORTLIST):
            result = features.verify(points[pk], points[other])
            calls += 1
            found.append((other, result.inliers if result else 0))
        shortlist[pk] = found
    match_ms = (time.perf_counter() - began) * 1000 / max(1, calls)
    sha = np.array([images[i].sha256 for i in ids])
    descriptors = np.array([rows[i].descriptor for i in ids], dtype=np.float32)
    same = sha[:, None] == sha[None, :]
    return Evidence(ids, distance, chunk, plain, same, shortlist, decode_ms + match_ms, descriptors)


def original_ranks(ev: Evidence, truth: dict, changes: tuple[str, ...]) -> dict[str, list[int]]:
    """For each copy with one of ``changes``: its original's rank by descriptor among every photo
    but its siblings (the other copies of its original), i.e. the shortlist size it needs alone."""
    position = {pk: k for k, pk in enumerate(ev.ids)}
    family = np.array([truth[pk][0] for pk in ev.ids])
    ranks: dict[str, list[int]] = {c: [] for c in changes}
    for pk in ev.ids:
        original, change, _ = truth[pk]
        if change not in changes:
            continue
        k = position[pk]
        similarity = ev.descriptors @ ev.descriptors[k]
        target = next(position[o] for o in ev.ids if truth[o][0] == original and truth[o][1] == "original")
        others = (family != original) | (np.arange(len(ev.ids)) == target)
        others[k] = False
        ranks[change].append(int((similarity[others] > similarity[target]).sum()) + 1)
    return ranks


class _Groups:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, a: int) -> int:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)

    def pairs(self) -> Pairs:
        members: dict[int, list[int]] = defaultdict(list)
        for a in list(self.parent):
            members[self.find(a)].append(a)
        return {frozenset(p) for group in members.values() for p in itertools.combinations(group, 2)}


def simulate(ev: Evidence, subset: set[int], d: int, radius: int, inliers: int, calls: int, old: bool = False) -> Pairs:
    """The groups' pairs among ``subset`` (calls=0: no verification tier; old: one pHash, full scan)."""
    index = [k for k, pk in enumerate(ev.ids) if pk in subset]
    groups = _Groups()
    for k in index:
        groups.find(ev.ids[k])
    sub = np.array(index)
    explained = set()
    for k in index:
        near = ev.plain[k, sub] <= d if old else (ev.distance[k, sub] <= d) & (ev.chunk[k, sub] <= radius)
        same = ev.same[k, sub]
        hits = sub[(near | same) & (sub != k)]
        for j in hits:
            groups.join(ev.ids[k], ev.ids[j])
        if len(hits):  # the photo's own lookup found something: no verification for it
            explained.add(ev.ids[k])
    for k in index if calls else ():
        pk = ev.ids[k]
        if pk in explained:
            continue
        shortlist = [(c, n) for c, n in ev.shortlist[pk] if c in subset][:calls]
        for other, count in shortlist:
            if count >= inliers:
                groups.join(pk, other)
    return groups.pairs()


def direct_pairs(duplicates: dict[str, list[str]], pk_of: dict[str, int], subset: set[int]) -> Pairs:
    """imagededup's answer (file -> its duplicates) as pairs of photos in ``subset``."""
    found = set()
    for name, others in duplicates.items():
        for other in others:
            a, b = pk_of[name], pk_of[other]
            if a in subset and b in subset:
                found.add(frozenset((a, b)))
    return found


def imagededup_pairs(folder: Path, pk_of, subset) -> dict[str, dict[int, Pairs]]:
    from imagededup.methods import DHash, PHash

    found = {}
    for method in (PHash(verbose=False), DHash(verbose=False)):
        encodings = method.encode_images(image_dir=str(folder), num_enc_workers=1)
        found[type(method).__name__] = {
            t: direct_pairs(
                method.find_duplicates(encoding_map=encodings, max_distance_threshold=t, num_dist_workers=1),
                pk_of,
                subset,
            )
            for t in (4, 6, 8, 10, 12, 14)
        }
    return found
