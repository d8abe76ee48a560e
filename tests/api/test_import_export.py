"""GET /api/workflows/{id}/export/ and POST /api/workflows/import/: any
workflow exports to one format-v1 file that imports anywhere, as a new
workflow; what cannot be read is refused with a reason."""
from __future__ import annotations

import re

import pytest

from editor.models import Workflow
from engine.format import FORMAT_V1

from .builders import llm_graph, minimal_graph, saved_workflow

IMPORT = "/api/workflows/import/"


@pytest.fixture
def acme_workflow(personas):
    return saved_workflow(personas["acme"], personas["alice"], graph=llm_graph(description="One line"), name="Acme Newsletter (weekly)")


def export(client, workflow):
    return client.get(f"/api/workflows/{workflow.pk}/export/")


# ----------------------------------------------------------------- export


def test_export_is_the_format_v1_document_as_a_file(personas, client_for, acme_workflow):
    r = export(client_for(personas["carol"]), acme_workflow)

    assert r.status_code == 200
    assert re.match(r'attachment; filename="acme-newsletter-+weekly\.json"', r["Content-Disposition"])
    document = r.json()
    assert document["format"] == FORMAT_V1
    assert document["name"] == "Acme Newsletter (weekly)"
    assert document == acme_workflow.latest_version.graph
    # Only the document: no API fields such as id, team or version.
    assert not {"id", "team", "version"} & set(document)


def test_export_of_a_workflow_with_a_non_latin_name_still_downloads_as_a_named_file(personas, client_for):
    workflow = saved_workflow(personas["acme"], personas["alice"], name="工作流")

    r = export(client_for(personas["alice"]), workflow)

    assert r.status_code == 200
    assert r["Content-Disposition"].startswith("attachment;")
    assert "filename" in r["Content-Disposition"]


def test_export_of_another_teams_workflow_is_404(personas, client_for, acme_workflow):
    assert export(client_for(personas["mallory"]), acme_workflow).status_code == 404


# ----------------------------------------------------------------- import


def test_an_exported_document_imports_as_a_new_workflow_with_an_equal_graph(personas, client_for, acme_workflow):
    document = export(client_for(personas["alice"]), acme_workflow).json()
    mallory = personas["mallory"]

    r = client_for(mallory).post(IMPORT, document, format="json")

    assert r.status_code == 201, r.content
    body = r.json()
    assert body["id"] != acme_workflow.pk
    assert body["version"] == 1
    assert body["team"] == mallory.personal_team.pk
    assert body["name"] == "Acme Newsletter (weekly)" and body["description"] == "One line"
    assert body["graph"] == document
    assert Workflow.objects.get(pk=body["id"]).latest_version.message == "Imported"


def test_import_into_a_team_you_edit_in(personas, client_for, acme_workflow):
    document = export(client_for(personas["alice"]), acme_workflow).json()
    acme = personas["acme"]

    r = client_for(personas["bob"]).post(IMPORT, {"graph": document, "team": acme.pk, "name": "Bob's copy"}, format="json")

    assert r.status_code == 201, r.content
    assert r.json()["team"] == acme.pk
    assert r.json()["name"] == "Bob's copy" and r.json()["graph"]["name"] == "Bob's copy"


def test_import_into_a_team_you_are_not_in_names_the_team(personas, client_for):
    acme = personas["acme"]
    r = client_for(personas["mallory"]).post(IMPORT, {"graph": minimal_graph(), "team": acme.pk}, format="json")

    assert r.status_code == 400
    assert f"not a member of team {acme.pk}" in r.json()["error"]
    assert not Workflow.objects.filter(team=acme).exists()


def test_a_viewer_cannot_import_into_the_team(personas, client_for):
    r = client_for(personas["carol"]).post(IMPORT, {"graph": minimal_graph(), "team": personas["acme"].pk}, format="json")

    assert r.status_code == 403
    assert not Workflow.objects.exists()


@pytest.mark.parametrize("team", ["acme", [1]])
def test_a_team_that_is_not_an_id_is_a_400_naming_team(personas, client_for, team):
    client = client_for(personas["alice"])
    client.raise_request_exception = False

    r = client.post(IMPORT, {"graph": minimal_graph(), "team": team}, format="json")

    assert r.status_code == 400
    assert "team" in r.json()["error"]


def test_garbage_is_refused_with_a_reason(personas, client_for):
    r = client_for(personas["alice"]).post(IMPORT, {"workflow": "yes please"}, format="json")

    assert r.status_code == 400
    assert "format: missing" in r.json()["error"]
    assert not Workflow.objects.exists()


def test_a_body_that_is_not_json_is_refused(personas, client_for):
    r = client_for(personas["alice"]).post(IMPORT, data="<workflow/>", content_type="application/json")

    assert r.status_code == 400
    assert "JSON parse error" in r.json()["error"]


def test_a_json_list_is_refused(personas, client_for):
    r = client_for(personas["alice"]).post(IMPORT, [minimal_graph()], format="json")

    assert r.status_code == 400
    assert "JSON object" in r.json()["error"]


def test_a_newer_format_is_refused(personas, client_for):
    r = client_for(personas["alice"]).post(IMPORT, minimal_graph(format="orchestrator.workflow/v2"), format="json")

    assert r.status_code == 400
    assert "newer" in r.json()["error"]
    assert not Workflow.objects.exists()


def test_an_invalid_document_lists_its_errors(personas, client_for):
    graph = minimal_graph()
    graph["edges"].append({"source": "start", "target": "nowhere"})
    r = client_for(personas["alice"]).post(IMPORT, graph, format="json")

    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["edge"] == 1 and "'nowhere'" in error["message"]
