"""A save that changes the graph must say which version it started from
(428 otherwise), so a teammate's save in between is never overwritten."""
from __future__ import annotations

from .builders import minimal_graph, saved_workflow


def changed():
    graph = minimal_graph()
    graph["nodes"][1]["config"]["value"] = "changed: {{ input.topic }}"
    return graph


def test_a_graph_change_without_base_version_is_refused_with_428(personas, client_for):
    workflow = saved_workflow(personas["acme"], personas["alice"])
    for method in ("put", "patch"):
        r = getattr(client_for(personas["bob"]), method)(f"/api/workflows/{workflow.pk}/", {"graph": changed()}, format="json")
        assert r.status_code == 428, r.content
        assert "base_version" in r.json()["error"] and r.json()["current_version"] == 1
    assert workflow.versions.count() == 1


def test_with_base_version_the_same_change_is_saved(personas, client_for):
    workflow = saved_workflow(personas["acme"], personas["alice"])
    r = client_for(personas["bob"]).put(f"/api/workflows/{workflow.pk}/", {"graph": changed(), "base_version": 1}, format="json")
    assert r.status_code == 200 and r.json()["version"] == 2


def test_a_rename_or_an_unchanged_graph_needs_no_base_version(personas, client_for):
    workflow = saved_workflow(personas["acme"], personas["alice"])
    bob = client_for(personas["bob"])
    assert bob.patch(f"/api/workflows/{workflow.pk}/", {"name": "Renamed"}, format="json").status_code == 200
    assert bob.put(f"/api/workflows/{workflow.pk}/", {"graph": minimal_graph()}, format="json").status_code == 200


def test_viewers_and_outsiders_are_refused_before_that(personas, client_for):
    workflow = saved_workflow(personas["acme"], personas["alice"])
    assert client_for(personas["carol"]).put(f"/api/workflows/{workflow.pk}/", {"graph": changed()}, format="json").status_code == 403
    assert client_for(personas["mallory"]).put(f"/api/workflows/{workflow.pk}/", {"graph": changed()}, format="json").status_code == 404
