"""The models: YOLOv5 detector, crop policy, CLIP, and the MLflow store that may serve weights."""

from __future__ import annotations

from pathlib import Path

from visualsearch.settings.environment import VAR_DIR, env

# --- Models -------------------------------------------------------------------
# "auto" picks cuda when torch sees a GPU, else cpu.
MODEL_DEVICE = env("MODEL_DEVICE", default="auto")
MODEL_CACHE_DIR = Path(env("MODEL_CACHE_DIR", default=str(VAR_DIR / "models")))
# Before a model or dataset download, one connection to its host is tried with this timeout
# (seconds); an unreachable source fails at once with the settings that avoid the download.
DOWNLOAD_CHECK_TIMEOUT = env.float("DOWNLOAD_CHECK_TIMEOUT", default=3.0)
# How long that answer is remembered, so requests in a process without its models fail fast.
DOWNLOAD_CHECK_CACHE_SECONDS = env.float("DOWNLOAD_CHECK_CACHE_SECONDS", default=60.0)

# The product's classes, matched by name against the detector's class names.
DETECTOR_CLASSES = env.list(
    "DETECTOR_CLASSES",
    default=["person", "car", "cell phone", "laptop", "book", "handbag", "sports ball"],
)
# A local .pt path, an official checkpoint name (yolov5n/s/m/l/x.pt, downloaded once from the
# YOLOv5 v7.0 release), or an MLflow URI (runs:/<run_id>/weights/best.pt, models:/<name>/<version>,
# models:/<name>@<alias>); MLFLOW_RUN_ID overrides a value that is not an MLflow URI. An OWL-ViT/OWLv2
# model (a hub id such as google/owlv2-base-patch16-ensemble, or a save_pretrained folder) is an
# open-vocabulary detector instead, whose words are DETECTOR_CLASSES (indexing/vision/owlvit.py).
DETECTOR_WEIGHTS = env("DETECTOR_WEIGHTS", default="yolov5s.pt")
# Expected sha256 of the weights; empty = a SHA256SUMS file beside them, the official list or an MLflow run's record.
DETECTOR_WEIGHTS_SHA256 = env("DETECTOR_WEIGHTS_SHA256", default="")
# Weights whose sha256 matches nothing known (DETECTOR_WEIGHTS_SHA256, a SHA256SUMS file beside
# them, an official YOLOv5 release asset, an MLflow run's record) are refused: unpickling runs any
# code inside. True loads them anyway, with a warning (your own checkpoints; better: pin them).
DETECTOR_ALLOW_UNVERIFIED_WEIGHTS = env.bool("DETECTOR_ALLOW_UNVERIFIED_WEIGHTS", default=False)
DETECTOR_CONFIDENCE = env.float("DETECTOR_CONFIDENCE", default=0.25)
DETECTOR_IOU = env.float("DETECTOR_IOU", default=0.45)
DETECTOR_IMAGE_SIZE = env.int("DETECTOR_IMAGE_SIZE", default=640)
DETECTOR_MAX_DETECTIONS = env.int("DETECTOR_MAX_DETECTIONS", default=100)
DETECTOR_BATCH_SIZE = env.int("DETECTOR_BATCH_SIZE", default=8)
# Minimum score of an open-vocabulary detection (DETECTOR_WEIGHTS an OWL-ViT/OWLv2 model, indexing/vision/owlvit.py):
# its scores are sigmoids of box-word similarities, lower than YOLOv5's confidences (0.1 as in OWL-ViT's examples).
OPEN_VOCABULARY_CONFIDENCE = env.float("OPEN_VOCABULARY_CONFIDENCE", default=0.1)
# Extra views for small objects (indexing/vision/slicing.py, measured in docs/detection.md): a
# mirrored full frame, full frames at other input sizes, overlapping tiles; merged by
# indexing/vision/merging.py. They are part of the detector version: changing one is a redetect.
DETECTOR_FLIP = env.bool("DETECTOR_FLIP", default=False)
DETECTOR_FLIP_IMAGE_SIZE = env.int("DETECTOR_FLIP_IMAGE_SIZE", default=0)  # 0 = DETECTOR_IMAGE_SIZE
DETECTOR_SCALES = [int(size) for size in env.list("DETECTOR_SCALES", default=[])]
DETECTOR_TILE_SIZE = env.int("DETECTOR_TILE_SIZE", default=0)  # photo pixels; 0 = no tiles
DETECTOR_TILE_OVERLAP = env.float("DETECTOR_TILE_OVERLAP", default=0.25)
DETECTOR_TILE_MIN_PHOTO_SIDE = env.int("DETECTOR_TILE_MIN_PHOTO_SIDE", default=1280)
DETECTOR_TILE_IMAGE_SIZE = env.int("DETECTOR_TILE_IMAGE_SIZE", default=640)
DETECTOR_TILE_MAX_BOX = env.float("DETECTOR_TILE_MAX_BOX", default=0.5)
DETECTOR_VIEW_CONFIDENCE = env.float("DETECTOR_VIEW_CONFIDENCE", default=0.1)
DETECTOR_MERGE_IOU = env.float("DETECTOR_MERGE_IOU", default=0.55)
DETECTOR_MERGED_CONFIDENCE = env.float("DETECTOR_MERGED_CONFIDENCE", default=0.25)
DETECTOR_SINGLE_VIEW_CONFIDENCE = env.float("DETECTOR_SINGLE_VIEW_CONFIDENCE", default=1.0)  # > 1: never alone
DETECTOR_SLICE_WHEN = env("DETECTOR_SLICE_WHEN", default="always")  # always | uncertain

# Crop policy (see indexing/vision/crops.py).
CROP_PADDING = env.float("CROP_PADDING", default=0.1)
CROP_MIN_SIDE = env.int("CROP_MIN_SIDE", default=32)
CROP_MAX_ASPECT = env.float("CROP_MAX_ASPECT", default=4.0)
CROP_MIN_AREA_FRACTION = env.float("CROP_MIN_AREA_FRACTION", default=0.001)

# CLIP: a hub id or a local directory written by save_pretrained.
CLIP_MODEL = env("CLIP_MODEL", default="openai/clip-vit-base-patch32")
CLIP_BATCH_SIZE = env.int("CLIP_BATCH_SIZE", default=32)
# Text queries: empty, CLIP_MODEL's own text tower (English); or a sentence-transformers
# encoder distilled into the same image space, for queries in other languages
# (sentence-transformers/clip-ViT-B-32-multilingual-v1 for ViT-B/32): a hub id or a local folder.
TEXT_ENCODER = env("TEXT_ENCODER", default="")
# The image model TEXT_ENCODER is aligned to (a CLIP id, or an embedder version name@hash), when
# neither its folder (aligned_to.json) nor the project knows it; a mismatch with the served CLIP is refused.
TEXT_ENCODER_ALIGNED_TO = env("TEXT_ENCODER_ALIGNED_TO", default="")
EMBEDDING_DIM = 512

# --- MLflow -------------------------------------------------------------------
MLFLOW_TRACKING_URI = env("MLFLOW_TRACKING_URI", default="")
MLFLOW_EXPERIMENT_ID = env("MLFLOW_EXPERIMENT_ID", default="")
MLFLOW_RUN_ID = env("MLFLOW_RUN_ID", default="")
