"""/api/credentials/: a team's model providers. Only an owner adds or deletes
one; the API key goes in and never comes out, and is encrypted at rest."""
from __future__ import annotations

import pytest

from editor.models import Credential

URL = "/api/credentials/"
SECRET = "sk-live-7f3a9c1e-very-secret"


def body(team, **changes):
    data = {"team": team.pk, "name": "openrouter", "api_key": SECRET, "base_url": "https://openrouter.ai/api/v1", "default_model": "gpt-4o-mini"}
    data.update(changes)
    return data


@pytest.fixture
def credential(personas, client_for):
    r = client_for(personas["alice"]).post(URL, body(personas["acme"]), format="json")
    assert r.status_code == 201, r.content
    return Credential.objects.get(pk=r.json()["id"])


def test_the_owner_adds_a_credential(personas, client_for):
    acme = personas["acme"]
    r = client_for(personas["alice"]).post(URL, body(acme), format="json")

    assert r.status_code == 201, r.content
    data = r.json()
    assert data["team"] == acme.pk and data["name"] == "openrouter"
    assert data["base_url"] == "https://openrouter.ai/api/v1" and data["default_model"] == "gpt-4o-mini"
    assert data["has_key"] is True
    assert "api_key" not in data
    assert SECRET.encode() not in r.content


def test_the_key_never_appears_in_any_response(personas, client_for, credential):
    responses = [
        client_for(personas["alice"]).get(URL),
        client_for(personas["alice"]).get(f"{URL}{credential.pk}/"),
        client_for(personas["carol"]).get(URL),
        client_for(personas["bob"]).get(f"{URL}{credential.pk}/"),
    ]

    for r in responses:
        assert r.status_code == 200
        assert SECRET.encode() not in r.content
        assert SECRET[-12:].encode() not in r.content  # not even a tail of it
    assert [c["name"] for c in responses[0].json()] == ["openrouter"]


def test_the_key_is_stored_encrypted(credential):
    stored = bytes(Credential.objects.get(pk=credential.pk).encrypted_api_key)

    assert stored and SECRET.encode() not in stored
    assert credential.get_api_key() == SECRET  # and the engine can still read it


def test_an_editor_cannot_add_a_credential(personas, client_for):
    r = client_for(personas["bob"]).post(URL, body(personas["acme"]), format="json")

    assert r.status_code == 403
    assert "owner" in r.json()["error"]
    assert not Credential.objects.exists()


def test_a_viewer_cannot_add_a_credential(personas, client_for):
    r = client_for(personas["carol"]).post(URL, body(personas["acme"]), format="json")

    assert r.status_code == 403
    assert not Credential.objects.exists()


def test_an_outsider_cannot_add_one_to_the_team(personas, client_for):
    acme = personas["acme"]
    r = client_for(personas["mallory"]).post(URL, body(acme), format="json")

    assert r.status_code == 400
    assert f"not a member of team {acme.pk}" in r.json()["error"]
    assert not Credential.objects.exists()


def test_an_outsider_cannot_see_the_teams_credentials(personas, client_for, credential):
    mallory = client_for(personas["mallory"])

    assert mallory.get(URL).json() == []
    r = mallory.get(f"{URL}{credential.pk}/")
    assert r.status_code == 404
    assert SECRET.encode() not in r.content


def test_a_duplicate_name_in_the_team_is_refused_naming_name(personas, client_for, credential):
    r = client_for(personas["alice"]).post(URL, body(personas["acme"], api_key="sk-other"), format="json")

    assert r.status_code == 400
    assert "name" in r.json()["error"]
    assert Credential.objects.count() == 1


def test_the_same_name_in_another_team_is_fine(personas, client_for, credential):
    mallory = personas["mallory"]
    r = client_for(mallory).post(URL, body(mallory.personal_team), format="json")

    assert r.status_code == 201


def test_an_outsider_cannot_probe_another_teams_credential_names(personas, client_for, credential):
    acme = personas["acme"]
    taken = client_for(personas["mallory"]).post(URL, body(acme, name="openrouter"), format="json")
    free = client_for(personas["mallory"]).post(URL, body(acme, name="no-such-name"), format="json")

    assert taken.status_code == free.status_code == 400
    assert taken.json()["error"] == free.json()["error"] == f"team: you are not a member of team {acme.pk}"


@pytest.mark.parametrize("missing", ["api_key", "name", "team"])
def test_a_missing_field_is_named(personas, client_for, missing):
    data = body(personas["acme"])
    del data[missing]
    r = client_for(personas["alice"]).post(URL, data, format="json")

    assert r.status_code == 400
    assert r.json()["error"].startswith(f"{missing}:")


def test_a_bad_base_url_is_named(personas, client_for):
    r = client_for(personas["alice"]).post(URL, body(personas["acme"], base_url="not a url"), format="json")

    assert r.status_code == 400
    assert r.json()["error"].startswith("base_url:")


def test_credentials_cannot_be_edited(personas, client_for, credential):
    # Replace a key by deleting and adding: no way to read or patch it in place.
    r = client_for(personas["alice"]).patch(f"{URL}{credential.pk}/", {"api_key": "sk-new"}, format="json")

    assert r.status_code == 405
    assert credential.get_api_key() == SECRET


def test_the_owner_deletes_a_credential(personas, client_for, credential):
    assert client_for(personas["alice"]).delete(f"{URL}{credential.pk}/").status_code == 204
    assert not Credential.objects.exists()


def test_an_editor_cannot_delete_a_credential(personas, client_for, credential):
    r = client_for(personas["bob"]).delete(f"{URL}{credential.pk}/")

    assert r.status_code == 403
    assert Credential.objects.exists()


def test_an_outsider_cannot_delete_a_credential(personas, client_for, credential):
    assert client_for(personas["mallory"]).delete(f"{URL}{credential.pk}/").status_code == 404
    assert Credential.objects.exists()
