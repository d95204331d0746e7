"""VisualSearch settings: a shared base and one module per environment (cookiecutter-django's layout).

- ``base``: everything the environments share, itself split by concern (``storage``, ``workers``
  for Celery, ``vision``, ``indexing``, ``search``, ``demo``), all read from the environment
  (and ``.env``) through ``environment``;
- ``development``: DEBUG on, a development secret key, static files and media served by Django,
  cookies over plain http;
- ``production``: DEBUG off, a strong SECRET_KEY required, WhiteNoise for static files, https only;
- ``test``: what pytest runs (pyproject.toml): development's, plus what only tests need.

``.env.example`` lists every variable with a comment.

Which module Django loads: ``DJANGO_SETTINGS_MODULE`` when it is set. Otherwise manage.py, wsgi,
asgi, celery and the bench scripts name this package, ``visualsearch.settings``, which stands for
development when DEBUG is true (in the environment or ``.env``) and production otherwise, as the
one ``settings.py`` did: a deployment that sets nothing gets production's refusals, never
development's defaults. A module named explicitly fixes DEBUG itself and refuses a DEBUG
variable that says otherwise.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any


def chosen_module() -> str:
    """The settings module ``visualsearch.settings`` stands for: development with DEBUG true, else production."""
    # Reads .env first, as the settings themselves do, so DEBUG=true there counts too.
    from visualsearch.settings.environment import env

    return f"{__name__}.development" if env.bool("DEBUG", default=False) else f"{__name__}.production"


def _chosen() -> ModuleType:
    return import_module(chosen_module())


# Django reads a settings module's upper-case names (dir(), then getattr()); this package hands it
# the chosen module's (PEP 562). Nothing is imported eagerly: importing visualsearch.settings.production
# runs this file first, and must not load development (or production twice) on the way.
def __getattr__(name: str) -> Any:
    if not name.isupper():
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_chosen(), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *(name for name in dir(_chosen()) if name.isupper())})
