"""/api/teams/{id}/activity/: who did what in a team, newest first, paged
like runs; each entry written in the transaction of the change."""
from __future__ import annotations

import pytest

from editor import services
from editor.models import Activity, WorkflowVersion

from .builders import minimal_graph, saved_workflow


def activity(client, team, **params):
    return client.get(f"/api/teams/{team.pk}/activity/", params)


def test_a_day_in_the_team_reads_back_newest_first(personas, client_for):
    alice, bob = client_for(personas["alice"]), client_for(personas["bob"])
    acme = personas["acme"]
    created = alice.post("/api/workflows/", {"graph": minimal_graph(name="Digest"), "team": acme.pk}, format="json").json()
    graph = minimal_graph(name="Digest")
    graph["nodes"][1]["config"]["value"] = "v2 {{ input.topic }}"
    assert bob.put(f"/api/workflows/{created['id']}/", {"graph": graph, "base_version": 1, "message": "shorter"}, format="json").status_code == 200
    run = bob.post(f"/api/workflows/{created['id']}/runs/", {"input": {"topic": "owls"}}, format="json").json()
    assert bob.post(f"/api/runs/{run['id']}/cancel/").status_code == 202
    assert alice.patch(f"/api/teams/{acme.pk}/members/{personas['carol'].pk}/", {"role": "editor"}, format="json").status_code == 200
    cred = alice.post("/api/credentials/", {"team": acme.pk, "name": "oa", "api_key": "sk-1"}, format="json").json()
    assert alice.patch(f"/api/credentials/{cred['id']}/", {"api_key": "sk-2"}, format="json").status_code == 200
    assert alice.delete(f"/api/credentials/{cred['id']}/").status_code == 204
    assert alice.delete(f"/api/workflows/{created['id']}/").status_code == 204

    r = activity(client_for(personas["carol"]), acme)

    assert r.status_code == 200
    rows = r.json()
    assert [e["action"] for e in rows] == [
        "workflow.deleted", "credential.deleted", "credential.rotated", "credential.created", "member.role_changed",
        "run.cancelled", "run.started", "workflow.saved", "workflow.created",
    ]
    saved = rows[-2]
    assert saved["actor"] == "bob" and saved["object_type"] == "workflow" and saved["object_id"] == str(created["id"])
    assert saved["summary"] == "bob saved Digest as version 2: shorter" and saved["at"]
    assert rows[-3]["object_type"] == "run" and rows[-3]["object_id"] == str(run["id"])
    assert all(set(e) >= {"at", "actor", "action", "object_type", "object_id", "summary"} for e in rows)


def test_activity_is_paged_like_runs(personas, client_for):
    for n in range(5):
        saved_workflow(personas["acme"], personas["alice"], name=f"W{n}")
    client = client_for(personas["alice"])

    first = activity(client, personas["acme"], limit=2)
    second = activity(client, personas["acme"], limit=2, before=first["X-Next-Before"])
    last = activity(client, personas["acme"], limit=2, before=second["X-Next-Before"])

    names = [e["summary"].split()[-1] for e in first.json() + second.json() + last.json()]
    assert names == ["W4", "W3", "W2", "W1", "W0"]
    assert "X-Next-Before" not in last
    assert activity(client, personas["acme"], limit=0).status_code == 400


def test_another_teams_activity_is_404(personas, client_for):
    assert activity(client_for(personas["mallory"]), personas["acme"]).status_code == 404


def test_an_entry_that_cannot_be_written_takes_the_change_with_it(personas, monkeypatch):
    """Same transaction: if the log row fails, the save does not land either."""
    workflow = saved_workflow(personas["acme"], personas["alice"])

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Activity.objects, "create", broken)
    graph = minimal_graph()
    graph["nodes"][1]["config"]["value"] = "v2 {{ input.topic }}"
    with pytest.raises(RuntimeError):
        services.save_workflow(workflow, user=personas["bob"], graph=graph, name=None, description=None, base_version=1)

    assert WorkflowVersion.objects.filter(workflow=workflow).count() == 1
