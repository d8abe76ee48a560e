"""Brute-force protection (issue 10, finding 4): after LOGIN_FAILURE_LIMIT
wrong passwords, the right one is refused too, on every way in, with a
message that says why and for how long."""
from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

TOKEN = "/api/auth/token/"


def guess_token(client, username, password):
    return client.post(TOKEN, {"username": username, "password": password}, format="json")


def test_the_token_endpoint_locks_an_account_out(personas):
    client = APIClient()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert guess_token(client, "alice", "wrong").status_code == 400
    assert guess_token(client, "alice", "wrong").status_code == 429  # the limit-th failure locks
    r = guess_token(client, "alice", "alice-password")
    assert r.status_code == 429
    assert "too many" in r.json()["error"].lower() or "locked" in r.json()["error"].lower()


def test_a_lockout_is_per_account_from_any_address(personas):
    for i in range(settings.AXES_FAILURE_LIMIT):
        guess_token(APIClient(REMOTE_ADDR=f"10.0.0.{i + 1}"), "alice", "wrong")
    assert guess_token(APIClient(REMOTE_ADDR="10.0.1.1"), "alice", "alice-password").status_code == 429
    # another account is not locked from a fresh address
    assert guess_token(APIClient(REMOTE_ADDR="10.0.1.2"), "bob", "bob-password").status_code == 200


def test_a_lockout_is_per_address_across_accounts(personas):
    client = APIClient(REMOTE_ADDR="10.9.9.9")
    for i in range(settings.AXES_FAILURE_LIMIT):
        guess_token(client, f"nobody{i}", "wrong")
    assert guess_token(client, "bob", "bob-password").status_code == 429
    assert guess_token(APIClient(REMOTE_ADDR="10.9.9.10"), "bob", "bob-password").status_code == 200


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_the_login_pages_lock_out(personas, url):
    personas["alice"].is_staff = True
    personas["alice"].save()
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(url, {"username": "alice", "password": "wrong"}).status_code == 200  # the form again
    client.post(url, {"username": "alice", "password": "wrong"})
    r = client.post(url, {"username": "alice", "password": "alice-password"})
    assert r.status_code == 429 and b"locked out" in r.content
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("password", [123, None, ["a"], {"a": 1}, True])
def test_a_password_that_is_not_a_string_is_a_400(personas, password):
    r = APIClient().post(TOKEN, {"username": "alice", "password": password}, format="json")
    assert r.status_code == 400 and "strings" in r.json()["error"]
