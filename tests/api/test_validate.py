"""POST /api/workflows/validate/: the canvas asks it before saving and puts
each error on its node or edge, so every error must say where it belongs."""
from __future__ import annotations

from .builders import invalid_graph, minimal_graph

URL = "/api/workflows/validate/"


def test_a_valid_graph_is_valid(personas, client_for):
    r = client_for(personas["carol"]).post(URL, {"graph": minimal_graph()}, format="json")

    assert r.status_code == 200
    assert r.json() == {"valid": True, "warnings": []}


def test_warnings_do_not_make_a_graph_invalid(personas, client_for):
    graph = minimal_graph()
    graph["nodes"].append({"id": "orphan", "type": "output"})
    r = client_for(personas["alice"]).post(URL, {"graph": graph}, format="json")

    assert r.status_code == 200
    assert r.json()["valid"] is True
    [warning] = r.json()["warnings"]
    assert warning["node"] == "orphan" and "cannot be reached" in warning["message"]


def test_an_invalid_graph_lists_errors_with_their_node_or_edge(personas, client_for):
    r = client_for(personas["alice"]).post(URL, {"graph": invalid_graph()}, format="json")

    assert r.status_code == 400
    body = r.json()
    assert body["valid"] is False
    assert body["error"] == body["errors"][0]["message"]
    assert {(e["code"], e.get("node"), e.get("edge")) for e in body["errors"]} == {
        ("unknown_type", "mystery", None),
        ("edge", None, 1),
    }
    assert all(e["severity"] == "error" for e in body["errors"])


def test_a_reference_to_a_missing_node_names_node_and_field(personas, client_for):
    graph = minimal_graph()
    graph["nodes"][1]["config"]["value"] = "{{ nodes.writer.output }}"
    r = client_for(personas["alice"]).post(URL, {"graph": graph}, format="json")

    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert (error["node"], error["field"]) == ("out", "value")
    assert "no node 'writer'" in error["message"]


def test_a_cycle_without_a_loop_is_named(personas, client_for):
    graph = minimal_graph()
    graph["nodes"][1:1] = [{"id": "a", "type": "transform", "config": {"value": 1}}, {"id": "b", "type": "transform", "config": {"value": 2}}]
    graph["edges"] = [{"source": "start", "target": "a"}, {"source": "a", "target": "b"}, {"source": "b", "target": "a"}, {"source": "b", "target": "out"}]
    r = client_for(personas["alice"]).post(URL, {"graph": graph}, format="json")

    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["code"] == "cycle" and error["node"] == "a"
    assert "a → b → a" in error["message"] and "loop node" in error["message"]


def test_a_body_without_graph_says_what_to_send(personas, client_for):
    r = client_for(personas["alice"]).post(URL, minimal_graph(), format="json")

    assert r.status_code == 400
    assert r.json()["valid"] is False
    assert '{"graph"' in r.json()["error"]


def test_a_body_that_is_not_an_object_is_refused(personas, client_for):
    r = client_for(personas["alice"]).post(URL, [minimal_graph()], format="json")

    assert r.status_code == 400
    assert r.json()["valid"] is False


def test_a_body_that_is_not_json_gets_a_parse_error(personas, client_for):
    r = client_for(personas["alice"]).post(URL, data="graph=1", content_type="application/json")

    assert r.status_code == 400
    assert "JSON parse error" in r.json()["error"]


def test_a_newer_format_is_refused_not_half_read(personas, client_for):
    r = client_for(personas["alice"]).post(URL, {"graph": minimal_graph(format="orchestrator.workflow/v2")}, format="json")

    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["field"] == "format"
    assert "newer" in error["message"] and "orchestrator.workflow/v2" in error["message"]


def test_an_unknown_format_is_refused(personas, client_for):
    r = client_for(personas["alice"]).post(URL, {"graph": minimal_graph(format="n8n")}, format="json")

    assert r.status_code == 400
    assert "not a workflow format this server knows" in r.json()["error"]


def test_a_missing_format_says_what_to_set(personas, client_for):
    graph = minimal_graph()
    del graph["format"]
    r = client_for(personas["alice"]).post(URL, {"graph": graph}, format="json")

    assert r.status_code == 400
    assert 'set "format": "orchestrator.workflow/v1"' in r.json()["error"]


def test_an_unknown_top_level_key_is_named(personas, client_for):
    r = client_for(personas["alice"]).post(URL, {"graph": minimal_graph(colour="red")}, format="json")

    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["field"] == "colour"
    assert "unknown key 'colour'" in error["message"]


def test_an_unknown_key_on_a_node_names_the_node(personas, client_for):
    graph = minimal_graph()
    graph["nodes"][1]["colour"] = "red"
    r = client_for(personas["alice"]).post(URL, {"graph": graph}, format="json")

    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["node"] == "out" and error["field"] == "nodes[1].colour"
    assert "unknown key 'colour'" in error["message"]


def test_an_unknown_key_on_an_edge_names_the_edge(personas, client_for):
    graph = minimal_graph()
    graph["edges"][0]["label"] = "go"
    r = client_for(personas["alice"]).post(URL, {"graph": graph}, format="json")

    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["edge"] == 0
    assert "unknown key 'label'" in error["message"]


def test_validate_needs_authentication(db):
    from rest_framework.test import APIClient

    r = APIClient().post(URL, {"graph": minimal_graph()}, format="json")

    assert r.status_code in (401, 403)
    assert "error" in r.json()
