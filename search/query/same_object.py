""" "The same object elsewhere" (crop page, GET /api/crops/<id>/same-object): from the served index, bounded.

The candidates are the crop's nearest neighbours from the served FAISS build of its
CLIP version, plus the build's SQL tail (search.query.candidates, as every search), under
the one visibility rule (active crop, active dataset, that version): no scan of every
crop vector, and crops of a dataset being deleted never appear. Only the rows of those
candidates are read (indexing.duplicates.matching.same_object_elsewhere), then grouped by
duplicate group (indexing.duplicates.selectors).
"""

from __future__ import annotations

import numpy as np
from django.conf import settings

from indexing.duplicates.matching import same_object_elsewhere
from indexing.duplicates.selectors import group_same_object
from indexing.models import Crop
from search.query.budget import Work
from search.query.candidates import search_vectors
from search.query.filters import NO_FILTER
from search.query.results import visible

SAME_OBJECT_LIMIT = 24  # crops shown: a person looks at them
# Crops of the photo itself are dropped after the search: ask for at most this many more.
OWN_PHOTO_ALLOWANCE = 50


def same_object_groups(crop_id: int, *, work: Work | None = None) -> list[list[dict]] | None:
    """Visible crops of other photos at DEDUP_OBJECT_MIN_SCORE or more, grouped; None if no such crop."""
    crop = visible().filter(pk=crop_id).first()
    if crop is None:
        return None
    own = min(Crop.objects.filter(image_id=crop.image_id).count(), OWN_PHOTO_ALLOWANCE)
    results = search_vectors(
        np.asarray(crop.embedding, dtype=np.float32)[None, :],
        SAME_OBJECT_LIMIT + own,
        NO_FILTER,
        settings.DEDUP_OBJECT_MIN_SCORE,
        version=crop.embedder_version,
        work=work,
    )[0]
    candidates = {r.crop_id: r.score for r in results if r.image_id != crop.image_id}
    return group_same_object(same_object_elsewhere(crop, candidates, limit=SAME_OBJECT_LIMIT))
