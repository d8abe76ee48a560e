"""/api/workflows/{id}/versions/ and /versions/{n}/: every save is a version a
teammate can look back at; another team's history does not exist for you."""
from __future__ import annotations

import pytest

from .builders import minimal_graph, saved_workflow


@pytest.fixture
def two_versions(personas, client_for):
    """Acme's workflow as alice created it (v1) and bob changed it (v2)."""
    workflow = saved_workflow(personas["acme"], personas["alice"], name="Digest")
    graph = minimal_graph()
    graph["nodes"][1]["config"]["value"] = "v2: {{ input.topic }}"
    r = client_for(personas["bob"]).put(f"/api/workflows/{workflow.pk}/", {"graph": graph, "message": "prefix", "base_version": 1}, format="json")
    assert r.status_code == 200 and r.json()["version"] == 2
    return workflow


def test_list_shows_every_version_newest_first_without_graphs(personas, client_for, two_versions):
    r = client_for(personas["carol"]).get(f"/api/workflows/{two_versions.pk}/versions/")

    assert r.status_code == 200
    versions = r.json()
    assert [(v["number"], v["author"], v["message"]) for v in versions] == [(2, "bob", "prefix"), (1, "alice", "Created")]
    assert all("graph" not in v and v["created_at"] for v in versions)


def test_a_single_version_has_its_graph(personas, client_for, two_versions):
    client = client_for(personas["alice"])

    first = client.get(f"/api/workflows/{two_versions.pk}/versions/1/")
    second = client.get(f"/api/workflows/{two_versions.pk}/versions/2/")

    assert first.status_code == second.status_code == 200
    assert first.json()["graph"]["nodes"][1]["config"]["value"] == "{{ input.topic }}"
    assert second.json()["graph"]["nodes"][1]["config"]["value"] == "v2: {{ input.topic }}"
    assert second.json()["number"] == 2 and second.json()["author"] == "bob"


def test_a_version_number_that_does_not_exist_is_404(personas, client_for, two_versions):
    r = client_for(personas["alice"]).get(f"/api/workflows/{two_versions.pk}/versions/3/")

    assert r.status_code == 404
    assert "error" in r.json()


def test_another_teams_versions_do_not_exist_for_you(personas, client_for, two_versions):
    client = client_for(personas["mallory"])

    assert client.get(f"/api/workflows/{two_versions.pk}/versions/").status_code == 404
    assert client.get(f"/api/workflows/{two_versions.pk}/versions/1/").status_code == 404


def test_an_old_version_is_kept_unchanged_by_later_saves(personas, client_for, two_versions):
    client = client_for(personas["alice"])
    client.patch(f"/api/workflows/{two_versions.pk}/", {"name": "Renamed"}, format="json")

    first = client.get(f"/api/workflows/{two_versions.pk}/versions/1/").json()

    assert first["graph"]["name"] == "Digest"
    assert first["graph"]["nodes"][1]["config"]["value"] == "{{ input.topic }}"
