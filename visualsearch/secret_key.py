"""Refuse to run in production with a secret key anyone could know."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

# Keys that have appeared in this project's files, docs or examples, and common placeholders.
KNOWN_INSECURE_KEYS = frozenset(
    {
        "insecure-dev-key-change-me",
        "collectstatic-only",
        "change-me",
        "changeme",
        "secret",
        "secret-key",
        "your-secret-key",
    }
)
# Django's own `check --deploy` warns below this length (security.W009).
MIN_SECRET_KEY_LENGTH = 50


def check_secret_key(key: str) -> None:
    """Raise ImproperlyConfigured, in one sentence with the fix, unless ``key`` is fit for production."""
    fix = (
        "set SECRET_KEY to a long random value, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))' (or DEBUG=true for development)."
    )
    if not key:
        raise ImproperlyConfigured(f"SECRET_KEY must be set when DEBUG is off: {fix}")
    if key in KNOWN_INSECURE_KEYS or key.startswith("django-insecure"):
        raise ImproperlyConfigured(f"SECRET_KEY is a known, public value: {fix}")
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 5:
        raise ImproperlyConfigured(
            f"SECRET_KEY is too short or too simple ({len(key)} characters, {MIN_SECRET_KEY_LENGTH} needed): {fix}"
        )
