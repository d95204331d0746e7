"""Query words: what an open-vocabulary detector looks for in a query photo beyond its vocabulary.

An image query may bring ``words`` ("red umbrella", "skateboard"): the served detector
scores the photo's region proposals against them too (indexing.vision.owlvit), and the
regions found for one are labelled with it and searched like the other objects. Bounded:
at most SEARCH_MAX_QUERY_WORDS words of at most MAX_WORD_CHARS characters each, since every
word is a text embedding and a column of scores. A detector with fixed classes (YOLOv5)
cannot take words: asking it is a clear 400, not words silently ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.utils.translation import gettext as _

from search.query.errors import SearchInputError

MAX_WORD_CHARS = 50


def parse_words(words: str | Sequence[str] | None) -> list[str]:
    """The words as a list: given as a list, repeated fields or comma-separated; stripped, no repeats."""
    if not words:
        return []
    parts = [words] if isinstance(words, str) else list(words)
    limit = settings.SEARCH_MAX_QUERY_WORDS
    if len(parts) > limit:  # before splitting: a list of a million entries is refused at once
        raise too_many(limit)
    found: dict[str, str] = {}
    for part in parts:
        for word in str(part).split(","):
            word = " ".join(word.split())
            if not word:
                continue
            if len(word) > MAX_WORD_CHARS:
                raise SearchInputError(
                    _("A query word is at most %(limit)d characters long: %(word)s…")
                    % {"limit": MAX_WORD_CHARS, "word": word[:MAX_WORD_CHARS]}
                )
            found.setdefault(word.lower(), word)
    if len(found) > limit:
        raise too_many(limit)
    return list(found.values())


def too_many(limit: int) -> SearchInputError:
    return SearchInputError(_("At most %(limit)d query words.") % {"limit": limit})


def check_detector_takes_words(detector, words: Sequence[str]) -> None:
    """Refuse words for a detector with fixed classes, naming its classes and the detector that takes words."""
    if words and not getattr(detector, "open_vocabulary", False):
        raise SearchInputError(
            _(
                "The served detector finds only its classes: %(classes)s; an open-vocabulary detector "
                "(DETECTOR_WEIGHTS=google/owlv2-base-patch16-ensemble) takes words."
            )
            % {"classes": ", ".join(detector.labels)}
        )
