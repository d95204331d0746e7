"""The indexing app's tables, one module per family; every model is importable from here.

Django registers a model with the app whose models module imports it, so each family's
module is imported here (and migrations import ``source_image_path``, ``crop_image_path``
and ``index_storage`` from ``indexing.models``).
"""

from indexing.models.builds import IndexBuild, index_storage
from indexing.models.catalog import (
    CURATE_CROPS_PERMISSION,
    DELETE_DATASET_PERMISSION,
    INDEX_PERMISSION,
    Crop,
    Dataset,
    SourceImage,
    crop_file_name,
    crop_image_path,
    source_image_path,
    stored_extension,
)
from indexing.models.descriptions import SEARCH_CONFIG, Description, DescriptionPrompt, DescriptionRun
from indexing.models.duplicates import DuplicateGroup, DuplicateMember, NotDuplicatePair, PhotoFingerprint, Tier
from indexing.models.jobs import IndexingJob, QueuedTask
from indexing.models.model_changes import ModelChange, StagedEmbedding

__all__ = [
    "CURATE_CROPS_PERMISSION",
    "DELETE_DATASET_PERMISSION",
    "INDEX_PERMISSION",
    "SEARCH_CONFIG",
    "Crop",
    "Dataset",
    "Description",
    "DescriptionPrompt",
    "DescriptionRun",
    "DuplicateGroup",
    "DuplicateMember",
    "IndexBuild",
    "IndexingJob",
    "ModelChange",
    "NotDuplicatePair",
    "PhotoFingerprint",
    "QueuedTask",
    "SourceImage",
    "StagedEmbedding",
    "Tier",
    "crop_file_name",
    "crop_image_path",
    "index_storage",
    "source_image_path",
    "stored_extension",
]
