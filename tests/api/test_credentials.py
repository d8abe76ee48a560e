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


def test_the_owner_rotates_the_key_and_it_never_comes_back(personas, client_for, credential):
    r = client_for(personas["alice"]).patch(f"{URL}{credential.pk}/", {"api_key": "sk-new-rotated-key"}, format="json")

    assert r.status_code == 200, r.content
    assert b"sk-new-rotated-key" not in r.content
    credential.refresh_from_db()
    assert credential.get_api_key() == "sk-new-rotated-key"


def test_the_owner_changes_base_url_and_default_model(personas, client_for, credential):
    r = client_for(personas["alice"]).patch(f"{URL}{credential.pk}/", {"base_url": "https://api.groq.com/openai/v1", "default_model": "llama"}, format="json")

    assert r.status_code == 200, r.content
    assert r.json()["base_url"] == "https://api.groq.com/openai/v1" and r.json()["provider"] == "Groq"
    assert r.json()["default_model"] == "llama"
    assert credential.get_api_key() == SECRET  # untouched


def test_an_editor_cannot_change_a_credential(personas, client_for, credential):
    r = client_for(personas["bob"]).patch(f"{URL}{credential.pk}/", {"base_url": "https://evil.example/v1"}, format="json")

    assert r.status_code == 403
    assert "alice" in r.json()["error"]  # whom to ask
    credential.refresh_from_db()
    assert credential.base_url == "https://openrouter.ai/api/v1"


def test_an_outsider_cannot_change_a_credential(personas, client_for, credential):
    assert client_for(personas["mallory"]).patch(f"{URL}{credential.pk}/", {"api_key": "x"}, format="json").status_code == 404
    assert credential.get_api_key() == SECRET


def test_a_credential_cannot_be_renamed_or_change_kind(personas, client_for, credential):
    alice = client_for(personas["alice"])
    renamed = alice.patch(f"{URL}{credential.pk}/", {"name": "other"}, format="json")
    rekinded = alice.patch(f"{URL}{credential.pk}/", {"kind": "http", "allowed_hosts": ["x.example"]}, format="json")

    assert renamed.status_code == 400 and renamed.json()["error"].startswith("name:")
    assert rekinded.status_code == 400 and rekinded.json()["error"].startswith("kind:")


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


# ----------------------------------------------------------------- where a secret may go


def http_graph(url: str, credential: str) -> dict:
    from .builders import document

    return document(
        [{"id": "start", "type": "start"},
         {"id": "fetch", "type": "http", "config": {"url": url, "credential": credential}},
         {"id": "out", "type": "output", "config": {"value": "{{ nodes.fetch.output.status }}"}}],
        [{"source": "start", "target": "fetch"}, {"source": "fetch", "target": "out"}],
    )


def test_an_http_node_that_would_carry_a_model_credential_is_refused_at_save(personas, client_for, credential):
    r = client_for(personas["bob"]).post("/api/workflows/", {"graph": http_graph("https://collector.example/x", "openrouter"),
                                                          "team": personas["acme"].pk}, format="json")

    assert r.status_code == 400
    assert "'openrouter' is a model credential" in r.json()["error"]
    assert r.json()["errors"][0]["node"] == "fetch"


def test_an_http_credential_names_its_hosts(personas, client_for):
    alice = client_for(personas["alice"])
    without = alice.post(URL, {"team": personas["acme"].pk, "name": "gh", "kind": "http", "api_key": "ghp_x"}, format="json")
    with_url = alice.post(URL, {"team": personas["acme"].pk, "name": "gh", "kind": "http", "api_key": "ghp_x", "allowed_hosts": ["api.github.com"],
                                "base_url": "https://api.github.com"}, format="json")
    bad_host = alice.post(URL, {"team": personas["acme"].pk, "name": "gh", "kind": "http", "api_key": "ghp_x", "allowed_hosts": ["https://api.github.com/x"]}, format="json")
    good = alice.post(URL, {"team": personas["acme"].pk, "name": "gh", "kind": "http", "api_key": "ghp_x", "allowed_hosts": ["API.github.com"]}, format="json")

    assert without.status_code == 400 and without.json()["error"].startswith("allowed_hosts:")
    assert with_url.status_code == 400 and with_url.json()["error"].startswith("base_url:")
    assert bad_host.status_code == 400 and "allowed_hosts" in bad_host.json()["error"]
    assert good.status_code == 201 and good.json()["allowed_hosts"] == ["api.github.com"] and good.json()["provider"] == "HTTP"


def test_a_model_credential_has_no_allowed_hosts(personas, client_for):
    r = client_for(personas["alice"]).post(URL, body(personas["acme"], allowed_hosts=["x.example"]), format="json")
    assert r.status_code == 400 and r.json()["error"].startswith("allowed_hosts:")


@pytest.fixture
def github(personas, client_for):
    r = client_for(personas["alice"]).post(URL, {"team": personas["acme"].pk, "name": "gh", "kind": "http", "api_key": "ghp_secret",
                                                 "allowed_hosts": ["api.github.com", "*.githubusercontent.com"]}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def test_an_http_node_may_send_its_credential_to_an_allowed_host(personas, client_for, github):
    for url in ("https://api.github.com/repos", "https://raw.githubusercontent.com/x", "https://{{ input.topic }}/x"):
        r = client_for(personas["bob"]).post("/api/workflows/", {"graph": http_graph(url, "gh"), "team": personas["acme"].pk}, format="json")
        assert r.status_code == 201, (url, r.content)


def test_an_http_node_sending_it_elsewhere_is_refused_at_save(personas, client_for, github):
    r = client_for(personas["bob"]).post("/api/workflows/", {"graph": http_graph("https://evil.example/steal", "gh"), "team": personas["acme"].pk}, format="json")

    assert r.status_code == 400
    assert "may be sent only to api.github.com" in r.json()["error"] and "evil.example" in r.json()["error"]


def test_a_model_node_cannot_use_an_http_credential(personas, client_for, github):
    from .builders import llm_graph

    graph = llm_graph()
    graph["nodes"][1]["config"]["credential"] = "gh"
    r = client_for(personas["bob"]).post("/api/workflows/", {"graph": graph, "team": personas["acme"].pk}, format="json")
    assert r.status_code == 400 and "http credential" in r.json()["error"]


# ----------------------------------------------------------------- test and models


@pytest.fixture
def fake_credential(personas, client_for, fake_openai_server):
    fake_openai_server.reset()
    fake_openai_server.accepted_keys = {"sk-good"}
    r = client_for(personas["alice"]).post(URL, body(personas["acme"], name="fake", api_key="sk-good", base_url=fake_openai_server.base_url), format="json")
    assert r.status_code == 201, r.content
    yield r.json()
    fake_openai_server.reset()


def test_testing_a_working_key_lists_its_models(personas, client_for, fake_credential, fake_openai_server):
    r = client_for(personas["alice"]).post(f"{URL}{fake_credential['id']}/test/")

    assert r.status_code == 200
    assert r.json() == {"ok": True, "models": ["fake-model", "fake-model-large"]}
    assert fake_openai_server.authorizations == ["Bearer sk-good"]  # sent to its own base URL


def test_testing_a_refused_key_says_so(personas, client_for, fake_credential):
    client_for(personas["alice"]).patch(f"{URL}{fake_credential['id']}/", {"api_key": "sk-revoked"}, format="json")

    r = client_for(personas["alice"]).post(f"{URL}{fake_credential['id']}/test/")

    assert r.status_code == 200
    assert r.json()["ok"] is False and "refused the key (401)" in r.json()["error"] and "Incorrect API key" in r.json()["error"]


def test_only_owners_test_but_editors_get_the_model_list(personas, client_for, fake_credential):
    assert client_for(personas["bob"]).post(f"{URL}{fake_credential['id']}/test/").status_code == 403
    assert client_for(personas["bob"]).get(f"{URL}{fake_credential['id']}/models/").json()["models"] == ["fake-model", "fake-model-large"]
    assert client_for(personas["carol"]).get(f"{URL}{fake_credential['id']}/models/").status_code == 403
    assert client_for(personas["mallory"]).get(f"{URL}{fake_credential['id']}/models/").status_code == 404
    assert client_for(personas["mallory"]).post(f"{URL}{fake_credential['id']}/test/").status_code == 404


def test_the_list_can_be_filtered_by_team(personas, client_for, credential):
    alice = client_for(personas["alice"])
    assert [c["name"] for c in alice.get(URL, {"team": personas["acme"].pk}).json()] == ["openrouter"]
    assert alice.get(URL, {"team": personas["alice"].personal_team.pk}).json() == []
