"""Workflows between teams: move (with versions, runs and conversations) and
copy (a new workflow at version 1); `team` on create, import and template use."""
from __future__ import annotations

import pytest

from editor import services
from editor.models import Activity, Membership, Run, Team, Workflow

from .builders import minimal_graph, saved_workflow


@pytest.fixture
def lab(personas):
    """A second shared team: alice owns it, bob edits in it, carol views it."""
    team = Team.objects.create(name="Lab")
    Membership.objects.create(team=team, user=personas["alice"], role="owner")
    Membership.objects.create(team=team, user=personas["bob"], role="editor")
    Membership.objects.create(team=team, user=personas["carol"], role="viewer")
    return team


@pytest.fixture
def workflow(personas):
    wf = saved_workflow(personas["acme"], personas["alice"], name="Digest")
    services.save_workflow(wf, user=personas["bob"], graph=minimal_graph(name="Digest", description="v2"), name=None, description=None, base_version=1)
    Run.objects.create(workflow=wf, version=wf.latest_version, graph=wf.latest_version.graph, team=personas["acme"], input={"topic": "x"}, status="succeeded")
    return wf


def move(client, wf, team):
    return client.post(f"/api/workflows/{wf.pk}/move/", {"team": team.pk}, format="json")


def test_the_owner_moves_a_workflow_with_its_versions_and_runs(personas, client_for, workflow, lab):
    r = move(client_for(personas["alice"]), workflow, lab)

    assert r.status_code == 200, r.content
    assert r.json()["team"] == lab.pk and r.json()["team_name"] == "Lab" and r.json()["version"] == 2
    workflow.refresh_from_db()
    assert workflow.team == lab and workflow.versions.count() == 2
    assert list(workflow.runs.values_list("team", flat=True)) == [lab.pk]
    assert Activity.objects.filter(team=personas["acme"], action="workflow.moved").get().summary == "alice moved Digest to Lab"
    assert Activity.objects.filter(team=lab, action="workflow.moved").exists()


def test_after_a_move_only_the_target_teams_members_see_it(personas, client_for, workflow):
    target = personas["mallory"].personal_team
    Membership.objects.create(team=target, user=personas["alice"], role="editor")  # alice may add workflows there

    assert move(client_for(personas["alice"]), workflow, target).status_code == 200
    assert client_for(personas["bob"]).get(f"/api/workflows/{workflow.pk}/").status_code == 404
    assert client_for(personas["bob"]).get(f"/api/runs/{workflow.runs.get().pk}/").status_code == 404
    assert client_for(personas["mallory"]).get(f"/api/workflows/{workflow.pk}/").status_code == 200


def test_an_editor_of_the_source_cannot_move_it(personas, client_for, workflow, lab):
    r = move(client_for(personas["bob"]), workflow, lab)

    assert r.status_code == 403 and "alice" in r.json()["error"]
    workflow.refresh_from_db()
    assert workflow.team == personas["acme"]


def test_a_viewer_of_the_target_cannot_receive_it(personas, client_for, workflow):
    viewers_team = Team.objects.create(name="Read-only")
    Membership.objects.create(team=viewers_team, user=personas["alice"], role="viewer")

    r = move(client_for(personas["alice"]), workflow, viewers_team)

    assert r.status_code == 403 and "viewer" in r.json()["error"]
    workflow.refresh_from_db()
    assert workflow.team == personas["acme"]


def test_moving_to_a_team_i_am_not_in_or_a_foreign_workflow(personas, client_for, workflow):
    not_mine = move(client_for(personas["alice"]), workflow, personas["mallory"].personal_team)
    foreign = move(client_for(personas["mallory"]), workflow, personas["mallory"].personal_team)

    assert not_mine.status_code == 400 and not_mine.json()["error"].startswith("team:")
    assert foreign.status_code == 404
    workflow.refresh_from_db()
    assert workflow.team == personas["acme"]


def test_a_move_needs_a_team_and_not_the_same_one(personas, client_for, workflow):
    alice = client_for(personas["alice"])
    assert alice.post(f"/api/workflows/{workflow.pk}/move/", {}, format="json").json()["error"].startswith("team:")
    assert move(alice, workflow, personas["acme"]).status_code == 400


def test_a_workflow_called_as_a_sub_workflow_is_not_moved(personas, client_for, workflow, lab):
    caller = minimal_graph()
    caller["nodes"].insert(1, {"id": "sub", "type": "subworkflow", "config": {"workflow": workflow.pk, "inputs": {"topic": "x"}}})
    caller["edges"] = [{"source": "start", "target": "sub"}, {"source": "sub", "target": "out"}]
    saved_workflow(personas["acme"], personas["alice"], graph=caller, name="Caller")

    r = move(client_for(personas["alice"]), workflow, lab)

    assert r.status_code == 409 and "Caller" in r.json()["error"]


def test_a_move_warns_of_credentials_the_target_lacks(personas, client_for, lab):
    graph = minimal_graph()
    graph["nodes"].insert(1, {"id": "write", "type": "llm", "config": {"prompt": "hi", "credential": "openrouter"}})
    graph["edges"] = [{"source": "start", "target": "write"}, {"source": "write", "target": "out"}]
    wf = saved_workflow(personas["acme"], personas["alice"], graph=graph)

    r = move(client_for(personas["alice"]), wf, lab)

    assert r.status_code == 200
    assert [w["node"] for w in r.json()["warnings"]] == ["write"] and "openrouter" in r.json()["warnings"][0]["message"]


def test_copy_makes_a_new_workflow_at_version_1(personas, client_for, workflow, lab):
    r = client_for(personas["bob"]).post(f"/api/workflows/{workflow.pk}/copy/", {"team": lab.pk, "name": "Digest for Lab"}, format="json")

    assert r.status_code == 201, r.content
    copy = Workflow.objects.get(pk=r.json()["id"])
    assert copy.team == lab and copy.name == "Digest for Lab" and r.json()["version"] == 1
    assert copy.latest_version.graph["nodes"] == workflow.latest_version.graph["nodes"]
    assert copy.runs.count() == 0 and workflow.versions.count() == 2  # the original is untouched
    assert Activity.objects.filter(team=lab, action="workflow.created", object_id=str(copy.pk)).exists()


def test_copy_defaults_to_the_same_team_and_a_copy_name(personas, client_for, workflow):
    r = client_for(personas["bob"]).post(f"/api/workflows/{workflow.pk}/copy/", {}, format="json")

    assert r.status_code == 201
    assert r.json()["team"] == personas["acme"].pk and r.json()["name"] == "Digest (copy)"


def test_a_viewer_copies_into_a_team_where_they_edit_but_not_into_this_one(personas, client_for, workflow):
    carol = client_for(personas["carol"])
    mine = carol.post(f"/api/workflows/{workflow.pk}/copy/", {"team": personas["carol"].personal_team.pk}, format="json")
    here = carol.post(f"/api/workflows/{workflow.pk}/copy/", {}, format="json")

    assert mine.status_code == 201 and mine.json()["team"] == personas["carol"].personal_team.pk
    assert here.status_code == 403


def test_an_outsider_cannot_copy(personas, client_for, workflow):
    r = client_for(personas["mallory"]).post(f"/api/workflows/{workflow.pk}/copy/", {"team": personas["mallory"].personal_team.pk}, format="json")
    assert r.status_code == 404


@pytest.mark.parametrize("how", ["create", "import", "template"])
def test_new_imported_and_template_workflows_take_team(personas, client_for, lab, how):
    bob = client_for(personas["bob"])
    if how == "create":
        r = bob.post("/api/workflows/", {"graph": minimal_graph(), "team": lab.pk}, format="json")
    elif how == "import":
        r = bob.post("/api/workflows/import/", {"graph": minimal_graph(), "team": lab.pk}, format="json")
    else:
        r = bob.post("/api/templates/prompt-chaining/use/", {"team": lab.pk}, format="json")

    assert r.status_code == 201, r.content
    assert r.json()["team"] == lab.pk
    assert Activity.objects.filter(team=lab, action="workflow.created", actor=personas["bob"]).exists()


@pytest.mark.parametrize("how", ["create", "import", "template"])
def test_a_viewer_cannot_add_workflows_to_the_team(personas, client_for, lab, how):
    carol = client_for(personas["carol"])
    if how == "create":
        r = carol.post("/api/workflows/", {"graph": minimal_graph(), "team": lab.pk}, format="json")
    elif how == "import":
        r = carol.post("/api/workflows/import/", {"graph": minimal_graph(), "team": lab.pk}, format="json")
    else:
        r = carol.post("/api/templates/prompt-chaining/use/", {"team": lab.pk}, format="json")
    assert r.status_code == 403
    assert not lab.workflows.exists()
