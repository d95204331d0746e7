"""Real HTTP against pytest-django's ``live_server``: browser-like sessions for real users."""

from __future__ import annotations

import requests
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.utils.crypto import get_random_string


def http_session(user: User | None = None) -> requests.Session:
    """A requests session carrying ``user``'s login (anonymous when None) and a CSRF pair.

    The login is a real session row (force_login skips only the password form); the CSRF
    cookie and header are what a browser page would send with a form or an API write.
    """
    session = requests.Session()
    if user is not None:
        client = Client()
        client.force_login(user)
        session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    secret = get_random_string(32)
    session.cookies.set(settings.CSRF_COOKIE_NAME, secret)
    session.headers["X-CSRFToken"] = secret
    return session


def group_with(name: str, *codenames: str) -> Group:
    group = Group.objects.create(name=name)
    group.permissions.set(Permission.objects.filter(content_type__app_label="indexing", codename__in=codenames))
    assert group.permissions.count() == len(codenames), "a permission named here does not exist"
    return group


def make_user(username: str, *groups: Group, is_staff: bool = False) -> User:
    user = User.objects.create_user(username, password=None, is_staff=is_staff)
    user.groups.set(groups)
    return user
