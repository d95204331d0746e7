"""The indexing app's admin: Django's autodiscovery imports this package, and each module registers its models.

- catalog: datasets, photos and crops (curation);
- duplicates: duplicate groups and remembered pairs (review);
- system: index builds and indexing jobs, read-only;
- descriptions: the per-label prompts (editable), descriptions and their runs (read-only).
"""

from indexing.admin import catalog, descriptions, duplicates, system  # noqa: F401 (each registers its models)
