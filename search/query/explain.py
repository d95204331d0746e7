""" "Why this matched": a result's score broken down, and one sentence saying it.

For a crop and a text query: its visual similarity (CLIP cosine of the query's text
embedding and the crop's vector, as search ranked it), its text match (``ts_rank`` of its
best description for the query's words, and which description), label agreement (whether
the query names the crop's label) and the detector's confidence.

The sentence comes from a template unless asked for the describer's (``use_vlm``, the
API with EXPLAIN_WITH_VLM on): the pages never ask, so a page never waits on a model. The
describer's is bounded (search.query.explain_vlm: top results only, a time budget, calls in
flight, a cache per model version, crop and query); past a bound, or when the model fails,
the template's sentence comes back with the reason (``fallback``, ``note``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.contrib.postgres.search import SearchRank
from django.db.models import F, Q
from django.utils.translation import gettext as _

from indexing import text_queries
from indexing.models import Description
from search.label_names import display_name, names_of
from search.query import explain_vlm
from search.query.errors import CropNotFound
from search.query.filters import build_filter
from search.query.results import visible
from search.query.text.words import text_query
from search.query.validation import validate_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Explanation:
    crop_id: int
    query: str
    visual_similarity: float | None  # None: the crop was embedded by another CLIP than the served one
    text_match: float | None  # None: no description of the crop matches the words
    matched_description: str
    matched_photo: bool  # the matched description is of the crop's whole photo (DESCRIPTIONS_WHOLE_PHOTOS)
    label: str
    label_agreement: bool
    detector_confidence: float
    sentence: str
    source: str  # "template" or "vlm"
    model: str = ""  # the describer that wrote the sentence (source vlm)
    fallback: str = ""  # why a describer's sentence was asked for and not given (explain_vlm's reasons)
    note: str = ""  # the same, in words


def explain(
    crop_id: int,
    query: str,
    *,
    use_vlm: bool = False,
    labels: Sequence[str] | str | None = None,
    datasets: Sequence | str | None = None,
    splits: Sequence | str | None = None,
) -> Explanation:
    """Why the crop matched the text query; ``labels``, ``datasets``, ``splits``: the search's filters.

    The filters are those the crop was found under: the describer explains a crop among the
    top results of that search (a rare label's results are not the whole collection's top).
    """
    query = validate_text(query)
    crop_filter = build_filter(labels=labels, datasets=datasets, splits=splits)
    crop = (
        visible()
        .filter(pk=crop_id)
        .values("pk", "image_id", "label", "confidence", "embedding", "embedder_version")
        .first()
    )
    if crop is None:
        raise CropNotFound(f"There is no crop {crop_id}.")
    # The query's vector as search embeds it (TEXT_ENCODER for any language, or the CLIP's own text
    # tower), so the similarity shown is the one search ranked by.
    vector, version = text_queries.embed_query(query)
    similarity = None
    if crop["embedder_version"] == version:
        similarity = round(float(np.dot(vector, np.asarray(crop["embedding"], dtype=np.float32))), 6)
    else:
        vector = None  # another CLIP embedded the crop: no similarity, and no top check against it
    match, words, of_photo = best_description(crop_id, crop["image_id"], query)
    agrees = names_label(query, crop["label"])
    facts = dict(
        crop_id=crop_id,
        query=query,
        visual_similarity=similarity,
        text_match=match,
        matched_description=words,
        matched_photo=of_photo,
        label=crop["label"],
        label_agreement=agrees,
        detector_confidence=round(float(crop["confidence"]), 4),
    )
    template = template_sentence(**facts)
    if not use_vlm or not settings.EXPLAIN_WITH_VLM:
        return Explanation(**facts, sentence=template, source="template")
    answer = explain_vlm.vlm_answer(
        crop_id=crop_id, query=query, label=crop["label"], vector=vector, version=version, crop_filter=crop_filter
    )
    if answer.fallback:
        return Explanation(**facts, sentence=template, source="template", fallback=answer.fallback, note=answer.note)
    return Explanation(**facts, sentence=answer.sentence, source="vlm", model=answer.model)


def best_description(crop_id: int, image_id: int, query: str) -> tuple[float | None, str, bool]:
    """The best ts_rank among the words of the crop and of its photo matching the query; the text; if the photo's."""
    tsquery = text_query(query)
    best = (
        Description.objects.filter(Q(crop_id=crop_id) | Q(image_id=image_id), search=tsquery)
        .annotate(rank=SearchRank(F("search"), tsquery))
        .order_by("-rank", "-pk")
        .values_list("rank", "text", "image_id")
        .first()
    )
    return (round(float(best[0]), 6), best[1], best[2] is not None) if best else (None, "", False)


def names_label(query: str, label: str) -> bool:
    """Whether the query names the label as words, in any site language ("a red car" and "빨간 자동차를" name car;
    "cart" does not)."""
    text = query.casefold()
    for name in names_of(label):
        # Korean particles follow a noun inside its word (자동차를): a name not in ASCII may start one.
        ending = r"s?\b" if name.isascii() else ""
        if re.search(rf"\b{re.escape(name)}{ending}", text):
            return True
    return False


def template_sentence(
    *,
    query: str,
    visual_similarity: float | None,
    text_match: float | None,
    matched_description: str,
    label: str,
    label_agreement: bool,
    detector_confidence: float,
    matched_photo: bool = False,
    **other_facts,
) -> str:
    # In the reader's language (the page's, or the API request's Accept-Language), the label by its name there.
    name = display_name(label)
    parts = []
    if visual_similarity is not None:
        parts.append(
            _("it looks like “%(query)s” to CLIP (similarity %(similarity).2f)")
            % {"query": query, "similarity": visual_similarity}
        )
    if text_match is not None:
        shares = (
            _("its photo's description “%(text)s” shares the query's words (text match %(match).2f)")
            if matched_photo
            else _("its description “%(text)s” shares the query's words (text match %(match).2f)")
        )
        parts.append(shares % {"text": matched_description, "match": text_match})
    if label_agreement:
        parts.append(_("the query names its label, %(label)s") % {"label": name})
    else:
        parts.append(_("the query does not name its label (%(label)s)") % {"label": name})
    detector = _("the detector saw a %(label)s with confidence %(confidence).2f") % {
        "label": name,
        "confidence": detector_confidence,
    }
    return _("Found because %(reasons)s; %(detector)s.") % {"reasons": "; ".join(parts), "detector": detector}
