"""Who is asking: token auth (POST /api/auth/token/, then `Authorization:
Token <key>`) for scripts, session auth for the browser, nothing for anyone
else. And GET /api/schema/, the OpenAPI document of everything above."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from editor.models import Workflow

from .builders import minimal_graph

TOKEN_URL = "/api/auth/token/"


def token_for(username: str, password: str):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json")


# ----------------------------------------------------------------- nobody


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/api/workflows/"),
        ("post", "/api/workflows/"),
        ("get", "/api/workflows/1/"),
        ("post", "/api/workflows/import/"),
        ("get", "/api/runs/1/"),
        ("post", "/api/runs/1/cancel/"),
        ("get", "/api/credentials/"),
        ("get", "/api/teams/"),
    ],
)
def test_unauthenticated_requests_get_a_json_error(db, method, url):
    r = getattr(APIClient(), method)(url, {}, format="json")

    assert r.status_code == 401
    assert r["Content-Type"].startswith("application/json")
    assert r.json() == {"error": "Authentication credentials were not provided."}


# ----------------------------------------------------------------- tokens


def test_a_token_from_username_and_password_authenticates(personas):
    r = token_for("alice", "alice-password")
    assert r.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {r.json()['token']}")

    listed = client.get("/api/workflows/")
    created = client.post("/api/workflows/", {"name": "Scripted", "graph": minimal_graph()}, format="json")

    assert listed.status_code == 200
    assert created.status_code == 201, created.content  # no CSRF for token clients
    assert Workflow.objects.get(pk=created.json()["id"]).created_by == personas["alice"]


def test_asking_again_returns_the_same_token(personas):
    assert token_for("bob", "bob-password").json() == token_for("bob", "bob-password").json()


def test_a_wrong_password_is_refused(personas):
    r = token_for("alice", "bob-password")

    assert r.status_code == 400
    assert r.json() == {"error": "username or password is wrong"}


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(personas):
    # The same words either way, so the endpoint does not tell who has an account.
    assert token_for("nobody", "x").json() == token_for("alice", "x").json()


def test_a_token_request_that_is_not_json_is_a_400(personas):
    r = APIClient().post(TOKEN_URL, data="alice:alice-password", content_type="application/json")

    assert r.status_code == 400
    assert "JSON parse error" in r.json()["error"]


def test_a_made_up_token_is_refused(personas):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")

    r = client.get("/api/workflows/")

    assert r.status_code == 401
    assert "error" in r.json()


# ----------------------------------------------------------------- sessions


def test_a_logged_in_browser_session_authenticates(personas):
    client = APIClient()
    assert client.login(username="carol", password="carol-password")

    r = client.get("/api/teams/")

    assert r.status_code == 200
    roles = {team["name"]: team["role"] for team in r.json()}
    assert roles == {"Acme": "viewer", "carol's team": "owner"}


def test_a_session_cannot_change_anything_without_the_csrf_token(personas):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="alice", password="alice-password")

    r = client.post("/api/workflows/", {"graph": minimal_graph()}, format="json")

    assert r.status_code == 403
    assert "CSRF" in r.json()["error"]
    assert not Workflow.objects.exists()


# ----------------------------------------------------------------- schema


def test_the_schema_is_an_openapi_document_of_the_api(personas, client_for):
    r = client_for(personas["alice"]).get("/api/schema/", {"format": "json"})

    assert r.status_code == 200
    schema = r.json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert {
        "/api/workflows/",
        "/api/workflows/{id}/",
        "/api/workflows/validate/",
        "/api/workflows/import/",
        "/api/workflows/{id}/export/",
        "/api/workflows/{id}/runs/",
        "/api/runs/{id}/",
        "/api/runs/{id}/cancel/",
        "/api/node-types/",
        "/api/credentials/",
        "/api/auth/token/",
    } <= paths
    assert "post" in schema["paths"]["/api/workflows/"]


def test_the_schema_is_served_as_yaml_by_default(personas, client_for):
    r = client_for(personas["alice"]).get("/api/schema/")

    assert r.status_code == 200
    assert b"openapi: 3." in r.content and b"/api/workflows/:" in r.content
