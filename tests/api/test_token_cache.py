"""API tokens are remembered for a few seconds (editor/tokens.py) but a
deleted token or a deactivated user is refused at once in the process that
made the change."""
from __future__ import annotations

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_client(user) -> tuple[APIClient, Token]:
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client, token


def test_a_deleted_token_is_refused_on_the_next_request(personas):
    client, token = token_client(personas["bob"])
    assert client.get("/api/teams/").status_code == 200  # now remembered

    token.delete()

    r = client.get("/api/teams/")
    assert r.status_code == 401
    assert "Invalid token" in r.json()["error"]


def test_a_deactivated_user_is_refused_on_the_next_request(personas):
    user = personas["carol"]
    client, _ = token_client(user)
    assert client.get("/api/teams/").status_code == 200

    user.is_active = False
    user.save()

    assert client.get("/api/teams/").status_code == 401


def test_an_unknown_token_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get("/api/teams/").status_code == 401
