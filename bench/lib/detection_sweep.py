"""Pick the knobs of multi-view detection on half A of COCO128, then show them on half B.

Run by ``python bench/detection.py --sweep``. Every photo's views (full frame, mirrors,
other scales, tiles) go through the detector once, down to a low confidence; each
candidate then only filters and merges those boxes (indexing.vision.merging), so many
candidates cost one detection pass. The cost column is the candidate's network input
area over the full frame's, averaged over photos (CPU time follows it);
bench/detection.py times the winners for real.
"""

from __future__ import annotations

import itertools
import math
import pickle
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bench.lib.detection_metrics import Tally, overall, score
from indexing.vision.detector import Detection, Detector
from indexing.vision.merging import fuse
from indexing.vision.slicing import SlicingConfig, View, _run_views, input_shape, is_uncertain, plan_views

FLOOR = 0.05  # each view's boxes down to this go into the cache
TILES = SlicingConfig(
    tile_size=384, tile_overlap=0.25, tile_min_photo_side=0, tile_image_size=640, view_confidence=FLOOR
)
FAMILIES = {  # name -> which cached views it is
    "full": lambda v: not v.tile and not v.flip and v.image_size == 640,
    "flip": lambda v: v.flip and v.image_size == 640,
    "flip512": lambda v: v.flip and v.image_size == 512,
    "flip448": lambda v: v.flip and v.image_size == 448,
    "s512": lambda v: not v.tile and not v.flip and v.image_size == 512,
    "s832": lambda v: not v.tile and not v.flip and v.image_size == 832,
    "tiles": lambda v: v.tile,
}
CANDIDATE_VIEWS = [("full", "flip"), ("full", "flip512"), ("full", "flip448"), ("full", "s512"), ("full", "s832"),
                   ("full", "tiles")]  # fmt: skip


def views_of(size: tuple[int, int]) -> list[View]:
    full = (0, 0, *size)
    extra = [View(full, 640, flip=True), View(full, 512, flip=True), View(full, 448, flip=True)]
    extra += [View(full, 512), View(full, 832)]
    return [View(full, 640), *extra, *plan_views(size, TILES, 640)[1:]]


def sweep(detector: Detector, images, truth, sizes, policy, halves, cache_file: Path | None = None) -> None:
    if cache_file is not None and cache_file.is_file():
        cache = pickle.loads(cache_file.read_bytes())  # the views of an earlier run: same photos, same weights
    else:
        cache = {stem: _run_views(detector, np.asarray(image), views_of(image.size), TILES) for stem, image in images}
        if cache_file is not None:
            cache_file.write_bytes(pickle.dumps(cache))
    context = (cache, detector, truth, sizes, policy, halves)
    raw = _candidate(("full",), 0.25, 0.55, 0.25, 1.01, "always", *context)
    rows = []
    for families, view_conf, merge_iou, conf, single, when in itertools.product(
        CANDIDATE_VIEWS, (0.05, 0.1), (0.5,), (0.15, 0.2, 0.25), (0.25, 1.01), ("always", "uncertain")
    ):
        if view_conf < conf:
            rows.append(_candidate(families, view_conf, merge_iou, conf, single, when, *context))
    print(f"raw: A recall {raw.a.recall:.3f} precision {raw.a.precision:.3f}")
    # Half A picks: the most recall at precision within 3 points of raw's and cost within 1.9x.
    fit = [r for r in rows if r.a.precision >= raw.a.precision - 0.03 and r.cost <= 1.9]
    fit.sort(key=lambda r: (-r.a.recall, -r.a.precision))
    print("| views | view conf | merge IoU | conf | single | when | cost | recall A | prec A | recall B | prec B "
          "| recall | prec |")  # fmt: skip
    print("|" + " --- |" * 13)
    for r in [raw, *fit[:40]]:
        print(f"| {r.views} | {r.view_conf} | {r.merge_iou} | {r.conf} | {r.single} | {r.when} | {r.cost:.2f} "
              f"| {r.a.recall:.3f} | {r.a.precision:.3f} | {r.b.recall:.3f} | {r.b.precision:.3f} "
              f"| {r.whole.recall:.3f} | {r.whole.precision:.3f} |")  # fmt: skip


class Candidate(NamedTuple):
    views: str
    view_conf: float
    merge_iou: float
    conf: float
    single: float
    when: str
    cost: float
    a: Tally
    b: Tally
    whole: Tally


def _candidate(families, view_conf, merge_iou, conf, single, when, cache, detector, truth, sizes, policy, halves):
    config = SlicingConfig(
        tile_size=384, view_confidence=view_conf, merge_iou=merge_iou, confidence=conf, single_confidence=single
    )
    found, cost = {}, 0.0
    for stem, views in cache.items():
        picked = [(v, r[r[:, 4] >= view_conf]) for v, r in views if any(FAMILIES[f](v) for f in families)]
        if when == "uncertain" and not is_uncertain(picked[0][1], config):
            picked = picked[:1]
        unit = _area(View((0, 0, *sizes[stem]), 640), detector.stride)
        cost += sum(_area(v, detector.stride) for v, _ in picked) / unit
        merged = fuse(picked, config, detector.max_detections)
        found[stem] = [Detection(detector.classes[int(r[5])], float(r[4]), tuple(r[:4])) for r in merged.tolist()]
    a, b, whole = (overall(score({s: found[s] for s in part}, truth, sizes, policy)) for part in (*halves, sizes))
    return Candidate("+".join(families), view_conf, merge_iou, conf, single, when, cost / len(cache), a, b, whole)


def _area(view: View, stride: int) -> float:
    return math.prod(input_shape(view.region, view.image_size, stride))
