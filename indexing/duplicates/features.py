"""Image features for the verification tier, no database: a small colour descriptor and ORB keypoints.

- The descriptor (64 numbers: a 4x4x4 RGB histogram of the frame inside its borders, square
  rooted and normalised, so cosine is the Hellinger affinity of the two histograms) moves little
  when a photo is cropped, flipped, turned or re-encoded. It only shortlists: pgvector returns
  the few stored photos closest to it (indexing.duplicates.verification).
- ORB keypoints (OpenCV, installed with yolov5) on a greyscale copy at most ``WORK_SIDE``
  pixels on a side, and ``verify``: ratio-tested matches, then a RANSAC homography; the
  inlier count says whether one photo shows part of the other (crops, small turns, overlays).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

DESCRIPTOR_DIM = 64
WORK_SIDE = 512
ORB_FEATURES = 1000
RATIO = 0.8  # Lowe's ratio test
RANSAC_PIXELS = 5.0  # reprojection error, in working-copy pixels
MIN_GOOD_MATCHES = 8


def descriptor(image: Image.Image) -> np.ndarray:
    """The unit 64-d colour descriptor of ``image`` (its frame inside the borders, by the caller)."""
    small = np.asarray(image.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR)) // 64  # 4 levels a channel
    bins = (small[..., 0].astype(np.int64) * 16 + small[..., 1] * 4 + small[..., 2]).ravel()
    histogram = np.sqrt(np.bincount(bins, minlength=DESCRIPTOR_DIM).astype(np.float32))
    return histogram / float(np.linalg.norm(histogram))


@dataclass(frozen=True)
class Keypoints:
    points: np.ndarray  # (n, 2) float32, working-copy pixels
    descriptors: np.ndarray | None  # (n, 32) uint8
    size: tuple[int, int]  # working copy's width, height

    def box(self, indexes: np.ndarray) -> list[float]:
        """The bounding box of some of the points, as shares of the photo's width and height."""
        pts = self.points[indexes]
        w, h = self.size
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return [round(float(x0) / w, 3), round(float(y0) / h, 3), round(float(x1) / w, 3), round(float(y1) / h, 3)]


def keypoints(image: Image.Image) -> Keypoints:
    grey = image.convert("L")
    scale = min(1.0, WORK_SIDE / max(grey.size))
    if scale < 1.0:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))))
    found, descriptors = cv2.ORB_create(nfeatures=ORB_FEATURES).detectAndCompute(np.asarray(grey), None)
    points = np.array([k.pt for k in found], dtype=np.float32).reshape(-1, 2)
    return Keypoints(points, descriptors, grey.size)


@dataclass(frozen=True)
class Verified:
    inliers: int
    box: list[float]  # the matched region in the query photo (shares of width, height)
    matched_box: list[float]  # and in the candidate


def verify(query: Keypoints, candidate: Keypoints) -> Verified | None:
    """The region two photos share by a RANSAC homography over ORB matches; None if nothing consistent."""
    if query.descriptors is None or candidate.descriptors is None:
        return None
    if len(query.descriptors) < MIN_GOOD_MATCHES or len(candidate.descriptors) < MIN_GOOD_MATCHES:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, candidate.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_GOOD_MATCHES:
        return None
    q_idx = np.array([m.queryIdx for m in good])
    c_idx = np.array([m.trainIdx for m in good])
    homography, mask = cv2.findHomography(
        query.points[q_idx], candidate.points[c_idx], cv2.RANSAC, RANSAC_PIXELS, maxIters=500
    )
    if homography is None or mask is None:
        return None
    # A homography that folds or squashes the photo is no crop of it: RANSAC fitted noise.
    scale = float(np.linalg.det(homography[:2, :2]))
    if not 0.02 < scale < 50.0:
        return None
    inlying = mask.ravel().astype(bool)
    if inlying.sum() < 4:
        return None
    return Verified(int(inlying.sum()), query.box(q_idx[inlying]), candidate.box(c_idx[inlying]))


def inlier_score(inliers: int) -> float:
    """An inlier count as the [0, 1] score shown next to a match (100 inliers and more: 1)."""
    return round(min(1.0, inliers / 100), 4)
