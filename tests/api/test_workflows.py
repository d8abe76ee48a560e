"""/api/workflows/ and /api/workflows/{id}/: create, list, read, save (versions,
stale edits), delete, and the messages a user gets for a bad body.

Personas: alice owns team Acme, bob edits in it, carol views it, mallory is an
outsider. Another team's workflow does not exist for you (404); a viewer may
look but not change (403)."""
from __future__ import annotations

import pytest

from editor.models import Workflow

from .builders import invalid_graph, minimal_graph, saved_workflow

URL = "/api/workflows/"


def detail(workflow) -> str:
    return f"{URL}{workflow.pk}/"


@pytest.fixture
def acme_workflow(personas):
    return saved_workflow(personas["acme"], personas["alice"], name="Acme newsletter")


# ----------------------------------------------------------------- create


def test_create_returns_version_1_and_stores_the_graph_under_the_workflows_name(personas, client_for):
    alice, acme = personas["alice"], personas["acme"]
    r = client_for(alice).post(URL, {"name": "Newsletter", "team": acme.pk, "graph": minimal_graph(name="Draft")}, format="json")

    assert r.status_code == 201, r.content
    body = r.json()
    assert body["version"] == 1
    assert body["name"] == "Newsletter" and body["team"] == acme.pk
    # The document's own name follows the workflow's, so an export carries it.
    assert body["graph"]["name"] == "Newsletter"
    assert body["graph"]["nodes"] == minimal_graph()["nodes"]
    workflow = Workflow.objects.get(pk=body["id"])
    assert workflow.latest_version.graph["name"] == "Newsletter"
    assert workflow.latest_version.author == alice


def test_create_without_team_goes_to_the_personal_team_and_takes_the_graphs_name(personas, client_for):
    mallory = personas["mallory"]
    r = client_for(mallory).post(URL, {"graph": minimal_graph(name="From the document")}, format="json")

    assert r.status_code == 201, r.content
    assert r.json()["team"] == mallory.personal_team.pk
    assert r.json()["name"] == "From the document"


def test_create_reports_graph_warnings_without_refusing(personas, client_for):
    graph = minimal_graph()
    graph["nodes"].append({"id": "orphan", "type": "output", "config": {"value": "never"}})
    r = client_for(personas["alice"]).post(URL, {"graph": graph}, format="json")

    assert r.status_code == 201, r.content
    assert [w["node"] for w in r.json()["warnings"]] == ["orphan"]


def test_create_in_a_team_you_are_not_in_is_refused_naming_the_team(personas, client_for):
    acme = personas["acme"]
    r = client_for(personas["mallory"]).post(URL, {"team": acme.pk, "graph": minimal_graph()}, format="json")

    assert r.status_code == 400
    assert "team" in r.json()["fields"]
    assert f"not a member of team {acme.pk}" in r.json()["error"]
    assert not Workflow.objects.filter(team=acme).exists()


def test_a_viewer_cannot_create_in_the_team(personas, client_for):
    r = client_for(personas["carol"]).post(URL, {"team": personas["acme"].pk, "graph": minimal_graph()}, format="json")

    assert r.status_code == 403
    assert "viewer" in r.json()["error"]
    assert not Workflow.objects.exists()


def test_an_editor_can_create_in_the_team(personas, client_for):
    r = client_for(personas["bob"]).post(URL, {"team": personas["acme"].pk, "graph": minimal_graph()}, format="json")

    assert r.status_code == 201, r.content


# ----------------------------------------------------------------- bad bodies


def test_a_body_that_is_not_json_gets_a_parse_error_not_a_500(personas, client_for):
    r = client_for(personas["alice"]).post(URL, data='{"graph": {', content_type="application/json")

    assert r.status_code == 400
    assert "JSON parse error" in r.json()["error"]


def test_a_json_list_instead_of_an_object_is_refused(personas, client_for):
    r = client_for(personas["alice"]).post(URL, [minimal_graph()], format="json")

    assert r.status_code == 400
    assert "must be a JSON object, not array" in r.json()["error"]


def test_a_body_without_graph_names_graph(personas, client_for):
    r = client_for(personas["alice"]).post(URL, {"name": "No graph"}, format="json")

    assert r.status_code == 400
    assert r.json()["error"].startswith("graph:")
    assert "graph" in r.json()["fields"]


def test_a_graph_that_is_not_an_object_is_refused(personas, client_for):
    r = client_for(personas["alice"]).post(URL, {"graph": "start -> out"}, format="json")

    assert r.status_code == 400
    assert "must be a JSON object, not a string" in r.json()["error"]


def test_an_invalid_graph_lists_every_error_each_naming_its_node_or_edge(personas, client_for):
    r = client_for(personas["alice"]).post(URL, {"name": "Broken", "graph": invalid_graph()}, format="json")

    assert r.status_code == 400
    body = r.json()
    assert body["error"].startswith("the workflow is invalid: ")
    by_code = {e["code"]: e for e in body["errors"]}
    assert by_code["unknown_type"]["node"] == "mystery" and "teleport" in by_code["unknown_type"]["message"]
    assert by_code["edge"]["edge"] == 1 and "'ghost' is not a node" in by_code["edge"]["message"]
    assert all("node" in e or "edge" in e for e in body["errors"])
    assert not Workflow.objects.filter(name="Broken").exists()


def test_a_bad_node_config_names_node_and_field(personas, client_for):
    graph = minimal_graph()
    graph["nodes"][1]["config"]["colour"] = "red"
    r = client_for(personas["alice"]).post(URL, {"graph": graph}, format="json")

    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["node"] == "out" and error["field"] == "config.colour"
    assert "no 'colour' setting" in error["message"]


# ----------------------------------------------------------------- list and read


def test_list_shows_only_the_workflows_of_your_teams(personas, client_for, acme_workflow):
    mine = saved_workflow(personas["mallory"].personal_team, personas["mallory"], name="Mallory's own")

    alice_sees = {w["name"] for w in client_for(personas["alice"]).get(URL).json()}
    carol_sees = {w["name"] for w in client_for(personas["carol"]).get(URL).json()}
    mallory_sees = {w["name"] for w in client_for(personas["mallory"]).get(URL).json()}

    assert alice_sees == carol_sees == {"Acme newsletter"}
    assert mallory_sees == {mine.name}


def test_list_leaves_out_the_graph_but_has_the_version(personas, client_for, acme_workflow):
    [item] = client_for(personas["alice"]).get(URL).json()

    assert item["graph"] is None
    assert item["version"] == 1 and item["team_name"] == "Acme"


def test_retrieve_returns_the_latest_graph(personas, client_for, acme_workflow):
    r = client_for(personas["carol"]).get(detail(acme_workflow))

    assert r.status_code == 200
    assert r.json()["graph"]["name"] == "Acme newsletter"
    assert r.json()["version"] == 1


def test_another_teams_workflow_does_not_exist_for_you(personas, client_for, acme_workflow):
    r = client_for(personas["mallory"]).get(detail(acme_workflow))

    assert r.status_code == 404
    assert "error" in r.json()


def test_a_missing_workflow_is_404(personas, client_for):
    assert client_for(personas["alice"]).get(f"{URL}999999/").status_code == 404


@pytest.mark.parametrize("method, path", [("get", ""), ("put", ""), ("delete", ""), ("get", "export/"), ("get", "versions/"), ("post", "runs/")])
def test_a_non_numeric_id_is_404_not_500(personas, client_for, method, path):
    client = client_for(personas["alice"])
    client.raise_request_exception = False

    r = getattr(client, method)(f"{URL}abc/{path}", {}, format="json")

    assert r.status_code == 404


# ----------------------------------------------------------------- save


def test_a_changed_graph_creates_version_2(personas, client_for, acme_workflow):
    graph = minimal_graph()
    graph["nodes"][1]["config"]["value"] = "Topic: {{ input.topic }}"
    r = client_for(personas["bob"]).put(detail(acme_workflow), {"graph": graph, "message": "prefix the topic", "base_version": 1}, format="json")

    assert r.status_code == 200, r.content
    assert r.json()["version"] == 2
    assert r.json()["graph"]["nodes"][1]["config"]["value"] == "Topic: {{ input.topic }}"
    latest = acme_workflow.latest_version
    assert (latest.number, latest.author, latest.message) == (2, personas["bob"], "prefix the topic")
    # A document that names itself differently renames the workflow (as its description would).
    assert latest.graph["name"] == "Minimal" and r.json()["name"] == "Minimal"


def test_saving_the_same_graph_adds_no_version(personas, client_for, acme_workflow):
    client = client_for(personas["alice"])
    graph = client.get(detail(acme_workflow)).json()["graph"]

    r = client.put(detail(acme_workflow), {"graph": graph}, format="json")

    assert r.status_code == 200
    assert r.json()["version"] == 1
    assert acme_workflow.versions.count() == 1


def test_patch_renames_without_sending_the_graph(personas, client_for, acme_workflow):
    r = client_for(personas["alice"]).patch(detail(acme_workflow), {"name": "Weekly digest"}, format="json")

    assert r.status_code == 200, r.content
    assert r.json()["name"] == "Weekly digest"
    assert r.json()["graph"]["name"] == "Weekly digest"
    assert r.json()["graph"]["nodes"] == minimal_graph()["nodes"]
    acme_workflow.refresh_from_db()
    assert acme_workflow.name == "Weekly digest"


def test_patch_with_a_description_saves_it_in_a_new_version(personas, client_for, acme_workflow):
    r = client_for(personas["alice"]).patch(detail(acme_workflow), {"description": "Every Monday"}, format="json")

    assert r.status_code == 200
    assert r.json()["description"] == "Every Monday"
    assert r.json()["graph"]["description"] == "Every Monday"


def test_a_description_edited_inside_the_graph_is_not_dropped_silently(personas, client_for, acme_workflow):
    # What a user does after export → edit the JSON → save it back.
    r = client_for(personas["alice"]).put(detail(acme_workflow), {"graph": minimal_graph(description="Every Monday")}, format="json")

    assert r.status_code == 200
    assert r.json()["graph"]["description"] == "Every Monday"


def test_put_without_graph_names_graph(personas, client_for, acme_workflow):
    r = client_for(personas["alice"]).put(detail(acme_workflow), {"name": "No graph"}, format="json")

    assert r.status_code == 400
    assert "graph" in r.json()["fields"]


def test_an_invalid_graph_is_refused_and_the_saved_one_kept(personas, client_for, acme_workflow):
    r = client_for(personas["alice"]).put(detail(acme_workflow), {"graph": invalid_graph(), "base_version": 1}, format="json")

    assert r.status_code == 400
    assert {e.get("node") for e in r.json()["errors"]} >= {"mystery"}
    assert acme_workflow.versions.count() == 1
    assert acme_workflow.latest_version.graph["nodes"] == minimal_graph()["nodes"]


def test_a_save_based_on_a_stale_version_is_a_conflict(personas, client_for, acme_workflow):
    # bob saves version 2 while alice still edits version 1.
    changed = minimal_graph()
    changed["nodes"][1]["config"]["value"] = "bob: {{ input.topic }}"
    assert client_for(personas["bob"]).put(detail(acme_workflow), {"graph": changed, "base_version": 1}, format="json").status_code == 200

    mine = minimal_graph()
    mine["nodes"][1]["config"]["value"] = "alice: {{ input.topic }}"
    r = client_for(personas["alice"]).put(detail(acme_workflow), {"graph": mine, "base_version": 1}, format="json")

    assert r.status_code == 409
    assert r.json()["current_version"] == 2
    assert "bob" in r.json()["error"] and "version 2" in r.json()["error"]
    assert acme_workflow.versions.count() == 2  # alice's edit did not overwrite bob's


def test_a_save_based_on_the_current_version_goes_through(personas, client_for, acme_workflow):
    graph = minimal_graph()
    graph["edges"][0]["id"] = "e1"
    r = client_for(personas["alice"]).patch(detail(acme_workflow), {"graph": graph, "base_version": 1}, format="json")

    assert r.status_code == 200
    assert r.json()["version"] == 2


def test_a_viewer_cannot_save(personas, client_for, acme_workflow):
    graph = minimal_graph()
    graph["edges"][0]["id"] = "carols"
    r = client_for(personas["carol"]).put(detail(acme_workflow), {"graph": graph}, format="json")

    assert r.status_code == 403
    assert "viewer" in r.json()["error"]
    assert acme_workflow.versions.count() == 1


def test_an_outsider_cannot_save(personas, client_for, acme_workflow):
    r = client_for(personas["mallory"]).patch(detail(acme_workflow), {"name": "pwned"}, format="json")

    assert r.status_code == 404
    acme_workflow.refresh_from_db()
    assert acme_workflow.name == "Acme newsletter"


# ----------------------------------------------------------------- delete


def test_the_owner_deletes(personas, client_for, acme_workflow):
    r = client_for(personas["alice"]).delete(detail(acme_workflow))

    assert r.status_code == 204
    assert not Workflow.objects.filter(pk=acme_workflow.pk).exists()


def test_an_outsider_cannot_delete(personas, client_for, acme_workflow):
    r = client_for(personas["mallory"]).delete(detail(acme_workflow))

    assert r.status_code == 404
    assert Workflow.objects.filter(pk=acme_workflow.pk).exists()


def test_an_editor_cannot_delete(personas, client_for, acme_workflow):
    r = client_for(personas["bob"]).delete(detail(acme_workflow))

    assert r.status_code == 403
    assert Workflow.objects.filter(pk=acme_workflow.pk).exists()


def test_a_viewer_cannot_delete(personas, client_for, acme_workflow):
    r = client_for(personas["carol"]).delete(detail(acme_workflow))

    assert r.status_code == 403
    assert Workflow.objects.filter(pk=acme_workflow.pk).exists()
