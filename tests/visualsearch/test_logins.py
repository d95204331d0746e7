"""Login lockout over real HTTP: after LOGIN_FAILURE_LIMIT failures from one client, even the right
password is refused, on the site's login and the admin's, by the client the trusted proxies name."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
from django.contrib.auth.models import User

from tests.live import http_session

PASSWORD = "a-long-right-password-9"
SITE, ADMIN = "/accounts/login/", "/admin/login/"


@pytest.fixture
def staff(transactional_db, settings) -> User:
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    return User.objects.create_user("curator", password=PASSWORD, is_staff=True)


def login(base: str, path: str, password: str, forwarded_for: str | None = None) -> requests.Response:
    session = http_session()
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = session.get(base + path, headers=headers, timeout=60)
    assert page.status_code == 200 and 'name="password"' in page.text  # the real login form
    data = {"username": "curator", "password": password, "next": "/"}
    return session.post(base + path, data=data, headers=headers, allow_redirects=False, timeout=60)


@pytest.mark.parametrize("path", [SITE, ADMIN])
def test_after_the_failure_limit_even_the_right_password_is_refused(live_server, staff, path):
    assert login(live_server.url, path, PASSWORD).status_code == 302  # it works, and resets nothing
    codes = [login(live_server.url, path, f"wrong-{i}").status_code for i in range(3)]
    assert codes == [200, 200, 429]  # the third failure locks the client out
    refused = login(live_server.url, path, PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.text and "try again in 15 minutes" in refused.text
    assert int(refused.headers["Retry-After"]) == 15 * 60
    # One lockout for both login pages: the other one refuses this client too.
    other = ADMIN if path == SITE else SITE
    assert login(live_server.url, other, PASSWORD).status_code == 429


def test_a_forged_forwarded_for_does_not_dodge_the_lockout(live_server, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    codes = [login(live_server.url, SITE, "wrong", forwarded_for=f"203.0.113.{i}").status_code for i in range(3)]
    assert codes == [200, 200, 429]
    assert login(live_server.url, SITE, PASSWORD, forwarded_for="198.51.100.1").status_code == 429


def test_behind_a_trusted_proxy_each_client_is_locked_out_alone(live_server, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client forges the left part; our proxy appends the address it saw.
    for i in range(3):
        login(live_server.url, SITE, "wrong", forwarded_for=f"10.0.0.{i}, 198.51.100.7")
    assert login(live_server.url, SITE, PASSWORD, forwarded_for="198.51.100.8, 198.51.100.7").status_code == 429
    # Another client behind the same proxy logs in.
    assert login(live_server.url, SITE, PASSWORD, forwarded_for="198.51.100.7, 198.51.100.8").status_code == 302


def test_the_lockout_ends_after_the_cool_off(live_server, staff, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    assert [login(live_server.url, SITE, "wrong").status_code for _ in range(3)][-1] == 429
    assert login(live_server.url, SITE, PASSWORD).status_code == 429
    time.sleep(2.5)
    assert login(live_server.url, SITE, PASSWORD).status_code == 302
