""" "Why this matched": a result's score broken down, and one sentence saying it.

For a crop and a text query: its visual similarity (CLIP cosine of the query's text
embedding and the crop's vector, as search ranked it), its text match (``ts_rank`` of its
best description for the query's words, and which description), label agreement (whether
the query names the crop's label) and the detector's confidence.

The sentence comes from a template unless asked for the describer's (``use_vlm``, the
API with EXPLAIN_WITH_VLM on): the pages never ask, so a page never waits on a model. A
describer's sentence is cached per model version, crop and query; one that fails gives
the template's sentence with the reason beside it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.contrib.postgres.search import SearchRank
from django.core.cache import cache
from django.db.models import F

from indexing import served_models
from indexing.models import Description
from indexing.vision import describe
from indexing.vision.describe import DescriberError
from indexing.vision.images import load_image
from search.query.errors import CropNotFound
from search.query.results import visible
from search.query.text.words import text_query
from search.query.validation import validate_text

logger = logging.getLogger(__name__)

CACHE_SECONDS = 7 * 24 * 3600
VLM_PROMPT = (
    'Someone searched a photo collection for "{query}" and this {label} came up. In one short sentence, '
    "say what in the image matches the search and what does not."
)


@dataclass(frozen=True)
class Explanation:
    crop_id: int
    query: str
    visual_similarity: float | None  # None: the crop was embedded by another CLIP than the served one
    text_match: float | None  # None: no description of the crop matches the words
    matched_description: str
    label: str
    label_agreement: bool
    detector_confidence: float
    sentence: str
    source: str  # "template" or "vlm"
    model: str = ""  # the describer that wrote the sentence (source vlm)
    note: str = ""  # why a describer's sentence was asked for and not given


def explain(crop_id: int, query: str, *, use_vlm: bool = False) -> Explanation:
    query = validate_text(query)
    crop = visible().filter(pk=crop_id).values("pk", "label", "confidence", "embedding", "embedder_version").first()
    if crop is None:
        raise CropNotFound(f"There is no crop {crop_id}.")
    embedder = served_models.embedder()
    similarity = None
    if crop["embedder_version"] == embedder.version:
        vector = embedder.embed_texts([query])[0]
        similarity = round(float(np.dot(vector, np.asarray(crop["embedding"], dtype=np.float32))), 6)
    match, words = best_description(crop_id, query)
    agrees = names_label(query, crop["label"])
    facts = dict(
        crop_id=crop_id,
        query=query,
        visual_similarity=similarity,
        text_match=match,
        matched_description=words,
        label=crop["label"],
        label_agreement=agrees,
        detector_confidence=round(float(crop["confidence"]), 4),
    )
    template = template_sentence(**facts)
    if not use_vlm or not settings.EXPLAIN_WITH_VLM:
        return Explanation(**facts, sentence=template, source="template")
    if settings.DESCRIPTIONS_BACKEND != "openai":  # BLIP continues a caption; it cannot answer a question
        note = "EXPLAIN_WITH_VLM needs a chat model (DESCRIPTIONS_BACKEND=openai); the local captioner only captions."
        return Explanation(**facts, sentence=template, source="template", note=note)
    try:
        model, sentence = vlm_sentence(crop_id, query, crop["label"])
    except DescriberError as exc:
        return Explanation(**facts, sentence=template, source="template", note=str(exc))
    return Explanation(**facts, sentence=sentence, source="vlm", model=model)


def best_description(crop_id: int, query: str) -> tuple[float | None, str]:
    """The best ts_rank among the crop's descriptions matching the words, and that description's text."""
    tsquery = text_query(query)
    best = (
        Description.objects.filter(crop_id=crop_id, search=tsquery)
        .annotate(rank=SearchRank(F("search"), tsquery))
        .order_by("-rank", "-pk")
        .values_list("rank", "text")
        .first()
    )
    return (round(float(best[0]), 6), best[1]) if best else (None, "")


def names_label(query: str, label: str) -> bool:
    """Whether the query names the label as words ("a red car" names car; "cart" does not)."""
    return re.search(rf"\b{re.escape(label.lower())}s?\b", query.lower()) is not None


def template_sentence(
    *,
    query: str,
    visual_similarity: float | None,
    text_match: float | None,
    matched_description: str,
    label: str,
    label_agreement: bool,
    detector_confidence: float,
    **_,
) -> str:
    parts = []
    if visual_similarity is not None:
        parts.append(f"it looks like “{query}” to CLIP (similarity {visual_similarity:.2f})")
    if text_match is not None:
        parts.append(f"its description “{matched_description}” shares the query's words (text match {text_match:.2f})")
    if label_agreement:
        parts.append(f"the query names its label, {label}")
    else:
        parts.append(f"the query does not name its label ({label})")
    confidence = f"the detector saw a {label} with confidence {detector_confidence:.2f}"
    return f"Found because {'; '.join(parts)}; {confidence}."


def vlm_sentence(crop_id: int, query: str, label: str) -> tuple[str, str]:
    """(model version, the describer's sentence), cached per model version, crop and query."""
    describer = describe.configured()
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]
    key = f"explain:{hashlib.sha256(describer.version.encode()).hexdigest()[:16]}:{crop_id}:{digest}"
    cached = cache.get(key)
    if cached is not None:
        return describer.version, cached
    crop = visible().filter(pk=crop_id).only("file").first()
    if crop is None or not crop.file:
        raise DescriberError("The crop has no image file to show the model.")
    with crop.file.open("rb") as handle:
        pixels = load_image(handle.read())
    prompt = VLM_PROMPT.format(query=query, label=label)
    sentence = describer.describe([pixels], [prompt])[0]
    cache.set(key, sentence, CACHE_SECONDS)
    return describer.version, sentence
