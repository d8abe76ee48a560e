"""POST /api/workflows/validate/: a template's input.* reference is checked
against the inputs schema, and an unreachable node is a warning, not an error."""
from __future__ import annotations


def graph(prompt: str, inputs=None, extra_nodes=()):
    return {"format": "orchestrator.workflow/v1", "name": "Refs",
            "inputs": inputs if inputs is not None else {"type": "object", "properties": {"topic": {"type": "string"}}},
            "nodes": [{"id": "start", "type": "start"}, {"id": "ask", "type": "llm", "config": {"prompt": prompt}},
                      {"id": "out", "type": "output", "config": {"value": "{{ nodes.ask.output }}"}}, *extra_nodes],
            "edges": [{"source": "start", "target": "ask"}, {"source": "ask", "target": "out"}]}


def validate(client, doc):
    return client.post("/api/workflows/validate/", {"graph": doc}, format="json")


def test_an_undeclared_input_is_refused_naming_node_field_and_input(personas, client_for):
    r = validate(client_for(personas["alice"]), graph("About {{ input.nothing }} and {{ input.topic }}"))
    assert r.status_code == 400
    problem = next(p for p in r.data["errors"] if p["code"] == "input_reference")
    assert problem["node"] == "ask" and problem["field"] == "prompt"
    assert "input.nothing" in problem["message"] and "topic" in problem["message"]
    assert not any("input.topic" in p["message"] for p in r.data["errors"])


def test_declared_inputs_and_open_schemas_pass(personas, client_for):
    client = client_for(personas["alice"])
    assert validate(client, graph("About {{ input['topic'] }}")).status_code == 200
    open_schema = {"type": "object", "properties": {}, "additionalProperties": True}
    assert validate(client, graph("About {{ input.anything }}", inputs=open_schema)).status_code == 200


def test_an_unreachable_node_is_a_warning_on_that_node(personas, client_for):
    r = validate(client_for(personas["alice"]), graph("About {{ input.topic }}", extra_nodes=[{"id": "lost", "type": "output", "config": {"value": "x"}}]))
    assert r.status_code == 200 and r.data["valid"] is True
    assert [w["node"] for w in r.data["warnings"] if w["code"] == "unreachable"] == ["lost"]
