"""Indexing jobs, model changes, dataset deletion and sources, duplicates, and the ANN index (FAISS)."""

from __future__ import annotations

from pathlib import Path

from visualsearch.settings.environment import VAR_DIR, env
from visualsearch.settings.workers import CELERY_BROKER_TRANSPORT_OPTIONS

# --- Indexing -----------------------------------------------------------------
# Images per Celery task / per CLI step (detector and embedder batch inside it).
INDEXING_BATCH_SIZE = env.int("INDEXING_BATCH_SIZE", default=16)
# A queued or running job with no batch finished for this long is marked stale (its worker or
# command died) and can be resumed (manage.py recover_jobs). Above the visibility timeout by
# default, so Celery's own redelivery of a dead worker's batch comes first.
INDEXING_JOB_STALE_SECONDS = env.int(
    "INDEXING_JOB_STALE_SECONDS", default=CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] + 600
)
# Model changes (indexing/model_changes/): crops re-embedded, or photos detected
# again, per transaction; progress and resume points commit with each batch.
MODEL_CHANGE_BATCH_SIZE = env.int("MODEL_CHANGE_BATCH_SIZE", default=256)
REDETECT_BATCH_SIZE = env.int("REDETECT_BATCH_SIZE", default=16)
# Dataset deletion (indexing/catalog/deletion.py): photos deleted per transaction, with their files;
# datasets with more photos than DATASET_DELETE_INLINE_MAX are deleted by a Celery job.
DATASET_DELETE_BATCH_SIZE = env.int("DATASET_DELETE_BATCH_SIZE", default=200)
DATASET_DELETE_INLINE_MAX = env.int("DATASET_DELETE_INLINE_MAX", default=100)

# --- Duplicates (indexing/duplicates/; defaults chosen by bench/dedup.py, docs/near-duplicates.md) -----
# Most bits two photos' 64-bit pHashes may differ by (any orientation, borders trimmed) and still be
# perceptual duplicates: 8 keeps precision 1.000 on the bench's tune half; 12 lets unrelated photos in.
DEDUP_PHASH_MAX_DISTANCE = env.int("DEDUP_PHASH_MAX_DISTANCE", default=8)
# Least cosine of two photos' vectors (the mean of their crops' CLIP vectors) for a semantic duplicate.
# Not measured offline (no real CLIP here); above 1 turns the tier off.
DEDUP_SEMANTIC_MIN_SCORE = env.float("DEDUP_SEMANTIC_MIN_SCORE", default=0.97)
# Perceptual lookups (indexing/duplicates/multi_index.py): hash chunks probed this many bits away (0 or 1).
# 0 reads ~10x fewer rows; what it misses beyond 3 bits the verification tier finds (bench/dedup.py).
DEDUP_PHASH_PROBE_RADIUS = env.int("DEDUP_PHASH_PROBE_RADIUS", default=0)
# The verification tier (indexing/duplicates/verification.py), for photos the hash tiers found nothing for:
# ORB + RANSAC calls per photo at most (0 turns it off), least inliers for a verified match, and the
# colour-descriptor cosine distance beyond which no candidate is shortlisted (1.0: none left out).
DEDUP_VERIFY_MAX_CALLS = env.int("DEDUP_VERIFY_MAX_CALLS", default=4)
DEDUP_VERIFY_MIN_INLIERS = env.int("DEDUP_VERIFY_MIN_INLIERS", default=20)
DEDUP_VERIFY_MAX_DESCRIPTOR_DISTANCE = env.float("DEDUP_VERIFY_MAX_DESCRIPTOR_DISTANCE", default=1.0)
# Least cosine of two crops for "the same object elsewhere" on a crop's page.
DEDUP_OBJECT_MIN_SCORE = env.float("DEDUP_OBJECT_MIN_SCORE", default=0.92)
# A new photo that duplicates a stored one: keep (index, no group), link (index, group it), skip (group, no index).
DEDUP_ON_INGEST = env("DEDUP_ON_INGEST", default="link")

# --- ANN index (FAISS) -----------------------------------------------------------
# "auto" picks the fastest configuration measured by bench/ann.py (indexing/ann/ann_table.json)
# that meets the two targets below; or a FAISS factory string: Flat, HNSW32, IVF4096,SQ8.
ANN_INDEX_KIND = env("ANN_INDEX_KIND", default="auto")
# recall@10 against exact search that "auto" must reach (on in-distribution queries).
ANN_RECALL_TARGET = env.float("ANN_RECALL_TARGET", default=0.95)
# Most memory one index may take, in bytes or with a unit ("8GB", "512MiB"); like autofaiss's
# max_index_memory_usage. Every searching process loads its own copy.
ANN_MAX_INDEX_MEMORY = env("ANN_MAX_INDEX_MEMORY", default="8GB")
# Search knobs for a forced ANN_INDEX_KIND (auto chooses its own with the index type).
ANN_HNSW_EF_SEARCH = env.int("ANN_HNSW_EF_SEARCH", default=128)
ANN_IVF_NPROBE = env.int("ANN_IVF_NPROBE", default=32)
ANN_REFINE_K_FACTOR = env.int("ANN_REFINE_K_FACTOR", default=4)
# Every build measures recall@10 on its own vectors (ANN_RECALL_SAMPLE queries: half held-out stored
# vectors, half near-copies) and raises its search knobs until ANN_RECALL_TARGET is met (indexing.ann.recall.measure).
ANN_RECALL_SAMPLE = env.int("ANN_RECALL_SAMPLE", default=400)
# A kind whose p95 single-query latency passes this before reaching the target gives way to the next kind.
ANN_RECALL_MAX_P95_MS = env.float("ANN_RECALL_MAX_P95_MS", default=10.0)
# Kinds a full build tries, in the table's order, before serving the best it found.
ANN_RECALL_MAX_KINDS = env.int("ANN_RECALL_MAX_KINDS", default=3)
# Tuning a kind's knobs stops once it has taken this share of that kind's build time (10 s at least).
ANN_RECALL_MAX_SHARE = env.float("ANN_RECALL_MAX_SHARE", default=0.5)
# Index updates measure their recall again once this many vectors were added since the last measurement.
ANN_RECALL_RECHECK_EVERY = env.int("ANN_RECALL_RECHECK_EVERY", default=100_000)
# Approximate builds of fewer vectors than this are not sampled (too few to hold any out).
ANN_RECALL_MIN_SIZE = env.int("ANN_RECALL_MIN_SIZE", default=1000)
# FAISS threads per search call (builds use all cores).
ANN_SEARCH_THREADS = env.int("ANN_SEARCH_THREADS", default=1)
# Build indexes on GPU when faiss-gpu is installed (embed_and_index --faiss-gpu asks for one build).
ANN_USE_GPU = env.bool("ANN_USE_GPU", default=False)
# How many ready index builds to keep (older files are deleted).
ANN_KEEP_BUILDS = env.int("ANN_KEEP_BUILDS", default=3)
# Index updates add new crops to the served index; a full build (retraining IVF/PQ) runs when the
# vectors added since the last training pass this share of the index...
ANN_RETRAIN_SHARE = env.float("ANN_RETRAIN_SHARE", default=0.5)
# ...or when hidden and deleted crops (filtered at query time until then) pass this share.
ANN_COMPACT_SHARE = env.float("ANN_COMPACT_SHARE", default=0.2)
# During a long job, update the index whenever this many crops wait outside it: they are ranked in SQL
# meanwhile, which costs a query about 40 ms per 10k at 1M crops (bench/search.py).
ANN_UPDATE_EVERY = env.int("ANN_UPDATE_EVERY", default=10_000)
# Each host's copies of index files from remote storage (memory-mapped by its web processes).
INDEX_CACHE_DIR = Path(env("INDEX_CACHE_DIR", default=str(VAR_DIR / "index-cache")))
# Builds' copies a host keeps there (the newest; older ones are deleted after each download).
INDEX_CACHE_KEEP = env.int("INDEX_CACHE_KEEP", default=3)

# --- Datasets -------------------------------------------------------------------
# Hosts a COCO annotations file's coco_url may download images from, over https only
# (images.cocodataset.org is fetched through its bucket's https address; see indexing/catalog/sources.py).
COCO_IMAGE_HOSTS = env.list("COCO_IMAGE_HOSTS", default=["images.cocodataset.org"])

# --- Descriptions (indexing/descriptions/, docs/descriptions.md) ------------------------------
# Words about each crop from a vision-language model, made on the Celery gpu queue after a batch is
# indexed (and by manage.py describe_crops). Off by default, and in the offline demo.
DESCRIPTIONS_ENABLED = env.bool("DESCRIPTIONS_ENABLED", default=False)
# local: a transformers BLIP captioner in the worker; openai: any OpenAI-compatible chat endpoint (Ollama, vLLM).
DESCRIPTIONS_BACKEND = env("DESCRIPTIONS_BACKEND", default="local")
# local: a hub id or a save_pretrained directory; openai: the endpoint's model name (e.g. llava, qwen2.5vl).
DESCRIPTIONS_MODEL = env("DESCRIPTIONS_MODEL", default="Salesforce/blip-image-captioning-base")
# openai: the API's base URL (Ollama: http://localhost:11434/v1) and its key (empty: none sent).
DESCRIPTIONS_API_URL = env("DESCRIPTIONS_API_URL", default="")
DESCRIPTIONS_API_KEY = env("DESCRIPTIONS_API_KEY", default="")
# One request to the endpoint may take this long; past it the description run fails with that reason.
DESCRIPTIONS_TIMEOUT_SECONDS = env.float("DESCRIPTIONS_TIMEOUT_SECONDS", default=30.0)
DESCRIPTIONS_MAX_TOKENS = env.int("DESCRIPTIONS_MAX_TOKENS", default=60)
# Crops described (and committed) per step: a run stopped part way resumes after the last step.
DESCRIPTIONS_BATCH_SIZE = env.int("DESCRIPTIONS_BATCH_SIZE", default=16)
# Describe each photo as a whole too (one description per photo and model, in the run of its crops);
# text search matches a photo's words for each of its crops.
DESCRIPTIONS_WHOLE_PHOTOS = env.bool("DESCRIPTIONS_WHOLE_PHOTOS", default=True)
# Back-pressure: past this many crops waiting for the describer, indexed batches queue no new description
# run (indexing goes on); manage.py describe_crops describes the rest.
DESCRIPTIONS_MAX_BACKLOG = env.int("DESCRIPTIONS_MAX_BACKLOG", default=50_000)
# "Why this matched" asks the describer for its sentence (cached per model) instead of the template.
EXPLAIN_WITH_VLM = env.bool("EXPLAIN_WITH_VLM", default=False)
# The most a "why this matched" request waits for the describer; past it, the template's sentence.
EXPLAIN_TIME_BUDGET_SECONDS = env.float("EXPLAIN_TIME_BUDGET_SECONDS", default=5.0)
# The describer explains only a crop among this many first results of the query's text search.
EXPLAIN_MAX_RESULTS = env.int("EXPLAIN_MAX_RESULTS", default=50)
