"""The describer's "why this matched" sentence, with its cost bounded whatever the model does.

Four bounds, each giving the template's sentence with its reason (``fallback``) instead:
- ``top results``: the model is asked only about a crop among the top EXPLAIN_MAX_RESULTS
  of the query's text search under the filters it was found with (CLIP's ranking, and the
  words' with SEARCH_TEXT_FUSION=rrf): a client cannot have the collection described one
  request at a time, only the results a search shows first;
- ``time budget``: a request waits at most EXPLAIN_TIME_BUDGET_SECONDS for the model.
  The call goes on in a thread (it ends by DESCRIPTIONS_TIMEOUT_SECONDS) and caches its
  answer, so a later request for the same crop and query gets the model's sentence;
- ``busy``: at most MAX_IN_FLIGHT model calls per web process at a time; a request past
  that gets the template at once rather than a queue of waiting threads;
- one crop per request, and the sentence cached per model version, crop and query.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from PIL import Image

from indexing.vision import describe
from indexing.vision.describe import Describer, DescriberError
from indexing.vision.images import load_image
from search.query.candidates import search_vectors
from search.query.filters import NO_FILTER, CropFilter
from search.query.results import visible
from search.query.text import fusion
from search.query.text.words import text_matches

logger = logging.getLogger(__name__)

CACHE_SECONDS = 7 * 24 * 3600
# Model calls running at once in one web process (each holds a thread and the endpoint's capacity).
MAX_IN_FLIGHT = 4
VLM_PROMPT = (
    'Someone searched a photo collection for "{query}" and this {label} came up. In one short sentence, '
    "say what in the image matches the search and what does not."
)

# The reasons a describer's sentence was asked for and the template's given (the API's ``fallback``).
TIME_BUDGET = "time budget"
NOT_TOP = "not a top result"
BUSY = "busy"
FAILED = "describer failed"
NO_CHAT_MODEL = "no chat model"

_in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)


@dataclass(frozen=True)
class Answer:
    sentence: str = ""  # empty: the template's sentence is given, for ``fallback``
    model: str = ""
    fallback: str = ""
    note: str = ""


def vlm_answer(
    *,
    crop_id: int,
    query: str,
    label: str,
    vector: np.ndarray | None,
    version: str,
    crop_filter: CropFilter = NO_FILTER,
) -> Answer:
    """The describer's sentence about the crop for the query, or why not (``vector``: the query's, by ``version``).

    ``crop_filter``: the search's filters, which the top results are ranked under.
    """
    if settings.DESCRIPTIONS_BACKEND != "openai":  # BLIP continues a caption; it cannot answer a question
        note = _(
            "EXPLAIN_WITH_VLM needs a chat model (DESCRIPTIONS_BACKEND=openai); the local captioner only captions."
        )
        return Answer(fallback=NO_CHAT_MODEL, note=note)
    try:
        describer = describe.configured()
    except DescriberError as exc:
        return Answer(fallback=FAILED, note=str(exc))
    key = cache_key(describer.version, crop_id, query)
    cached = cache.get(key)
    if cached is not None:
        return Answer(sentence=cached, model=describer.version)
    top = settings.EXPLAIN_MAX_RESULTS
    if vector is None or not among_top(crop_id, query, vector, version=version, top=top, crop_filter=crop_filter):
        note = _("The model explains only the top %(top)d results of a search; this crop is not among them.")
        return Answer(fallback=NOT_TOP, note=note % {"top": top})
    crop = visible().filter(pk=crop_id).only("file").first()
    if crop is None or not crop.file:
        return Answer(fallback=FAILED, note=_("The crop has no image file to show the model."))
    with crop.file.open("rb") as handle:
        pixels = load_image(handle.read())
    prompt = VLM_PROMPT.format(query=query, label=label)
    budget = settings.EXPLAIN_TIME_BUDGET_SECONDS
    try:
        sentence = ask_within_budget(describer, key, pixels, prompt, budget)
    except DescriberError as exc:
        return Answer(fallback=FAILED, note=str(exc))
    if sentence is None:
        return Answer(fallback=BUSY, note=_("The model is busy with other requests; try again shortly."))
    if not sentence:
        note = _("The model did not answer within %(seconds)s s; its answer, when it comes, is kept for next time.")
        return Answer(fallback=TIME_BUDGET, note=note % {"seconds": f"{budget:g}"})
    return Answer(sentence=sentence, model=describer.version)


def cache_key(version: str, crop_id: int, query: str) -> str:
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]
    return f"explain:{hashlib.sha256(version.encode()).hexdigest()[:16]}:{crop_id}:{digest}"


def among_top(
    crop_id: int, query: str, vector: np.ndarray, *, version: str, top: int, crop_filter: CropFilter = NO_FILTER
) -> bool:
    """Whether the crop is among the first ``top`` of the query's text search under ``crop_filter``.

    Bounded as a search is: ``top`` deep, the filtered search's own caps.
    """
    if top <= 0:
        return False
    found = search_vectors(vector[None, :], top, crop_filter, None, version=version)[0]
    if any(result.crop_id == crop_id for result in found):
        return True
    if fusion.mode() == "rrf":  # found by its words alone, it may come first too
        return crop_id in text_matches(query, crop_filter=crop_filter, version=version, limit=top)
    return False


def ask_within_budget(describer: Describer, key: str, pixels: Image.Image, prompt: str, budget: float) -> str | None:
    """The model's answer within ``budget`` seconds; "" past it (the call goes on and caches), None when busy.

    A request for a crop and query the model is being asked about already waits on that call
    instead of asking again: a client polling for the late answer costs no more model calls.
    """
    with _lock:
        pending = _pending.get(key)
        if pending is None:
            if not _in_flight.acquire(blocking=False):
                return None
            pending = _pending[key] = _Call()
            threading.Thread(target=_call, args=(describer, key, pixels, prompt, pending), daemon=True).start()
    if not pending.done.wait(budget):
        return ""
    if pending.error is not None:
        raise pending.error
    return pending.sentence


@dataclass
class _Call:
    done: threading.Event = field(default_factory=threading.Event)
    sentence: str = ""
    error: DescriberError | None = None


_lock = threading.Lock()
_pending: dict[str, _Call] = {}


def _call(describer: Describer, key: str, pixels: Image.Image, prompt: str, pending: _Call) -> None:
    try:
        pending.sentence = describer.describe([pixels], [prompt])[0]
        cache.set(key, pending.sentence, CACHE_SECONDS)
    except DescriberError as exc:
        pending.error = exc
    except Exception as exc:  # the thread's failure is the request's fallback, never a 500
        logger.exception("The describer failed to explain")
        pending.error = DescriberError(f"{type(exc).__name__}: {exc}")
    finally:
        with _lock:
            _pending.pop(key, None)
        _in_flight.release()
        pending.done.set()
