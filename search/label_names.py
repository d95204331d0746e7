"""Class names in the reader's language: shown translated, and accepted translated in label filters.

Labels are stored as the detector names them (English COCO names); the catalog
(locale/<lang>/LC_MESSAGES/django.po) holds their names in each language. A filter may
name a class in any of the site's languages ("자동차" or "car"): it is mapped to the
stored label before it is checked (search.query.validation), so the database only ever
sees the detector's own names.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.utils.translation import gettext, gettext_noop, override

# The 80 COCO names, marked so makemessages puts them in the catalog (the detector's classes
# are a subset of them with the official weights; another detector's own names show as they are).
COCO_NAMES = (
    gettext_noop("person"),
    gettext_noop("bicycle"),
    gettext_noop("car"),
    gettext_noop("motorcycle"),
    gettext_noop("airplane"),
    gettext_noop("bus"),
    gettext_noop("train"),
    gettext_noop("truck"),
    gettext_noop("boat"),
    gettext_noop("traffic light"),
    gettext_noop("fire hydrant"),
    gettext_noop("stop sign"),
    gettext_noop("parking meter"),
    gettext_noop("bench"),
    gettext_noop("bird"),
    gettext_noop("cat"),
    gettext_noop("dog"),
    gettext_noop("horse"),
    gettext_noop("sheep"),
    gettext_noop("cow"),
    gettext_noop("elephant"),
    gettext_noop("bear"),
    gettext_noop("zebra"),
    gettext_noop("giraffe"),
    gettext_noop("backpack"),
    gettext_noop("umbrella"),
    gettext_noop("handbag"),
    gettext_noop("tie"),
    gettext_noop("suitcase"),
    gettext_noop("frisbee"),
    gettext_noop("skis"),
    gettext_noop("snowboard"),
    gettext_noop("sports ball"),
    gettext_noop("kite"),
    gettext_noop("baseball bat"),
    gettext_noop("baseball glove"),
    gettext_noop("skateboard"),
    gettext_noop("surfboard"),
    gettext_noop("tennis racket"),
    gettext_noop("bottle"),
    gettext_noop("wine glass"),
    gettext_noop("cup"),
    gettext_noop("fork"),
    gettext_noop("knife"),
    gettext_noop("spoon"),
    gettext_noop("bowl"),
    gettext_noop("banana"),
    gettext_noop("apple"),
    gettext_noop("sandwich"),
    gettext_noop("orange"),
    gettext_noop("broccoli"),
    gettext_noop("carrot"),
    gettext_noop("hot dog"),
    gettext_noop("pizza"),
    gettext_noop("donut"),
    gettext_noop("cake"),
    gettext_noop("chair"),
    gettext_noop("couch"),
    gettext_noop("potted plant"),
    gettext_noop("bed"),
    gettext_noop("dining table"),
    gettext_noop("toilet"),
    gettext_noop("tv"),
    gettext_noop("laptop"),
    gettext_noop("mouse"),
    gettext_noop("remote"),
    gettext_noop("keyboard"),
    gettext_noop("cell phone"),
    gettext_noop("microwave"),
    gettext_noop("oven"),
    gettext_noop("toaster"),
    gettext_noop("sink"),
    gettext_noop("refrigerator"),
    gettext_noop("book"),
    gettext_noop("clock"),
    gettext_noop("vase"),
    gettext_noop("scissors"),
    gettext_noop("teddy bear"),
    gettext_noop("hair drier"),
    gettext_noop("toothbrush"),
)


def display_name(label: str) -> str:
    """The label in the active language; a name the catalog lacks (a custom detector's) as stored."""
    return gettext(label) if label else label


def stored_labels(names: Iterable[str], classes: Iterable[str]) -> list[str]:
    """Each name as the stored label it names in any of the site's languages; an unknown name unchanged."""
    known = _names_by_language(tuple(classes))
    return [known.get(name.strip().casefold(), name) for name in names]


@lru_cache(maxsize=256)
def names_of(label: str) -> frozenset[str]:
    """The label's names in every site language, casefolded: {"car", "자동차"} (a query may use any)."""
    # The one-class mapping's names, past its cache (which holds the served class sets).
    return frozenset(_names_by_language.__wrapped__((label,)))


@lru_cache(maxsize=8)
def _names_by_language(classes: tuple[str, ...]) -> dict[str, str]:
    """casefolded name in any site language -> the stored label (the catalogs are read once per process)."""
    names: dict[str, str] = {}
    for code, _name in settings.LANGUAGES:
        with override(code):
            names.update({gettext(label).casefold(): label for label in classes})
    names.update({label.casefold(): label for label in classes})  # the stored names win any clash
    return names
