"""The validate node: JSON Schema and rules, the valid/invalid ports, and the
error list a repair branch reads."""
from __future__ import annotations

import pytest

from engine import graph as graph_module
from engine.nodes.base import NodeContext
from engine.nodes.validate import ValidateConfig, ValidateNode

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string", "minLength": 3}, "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
    "required": ["title", "tags"],
}


def check(value, schema=None, rules=None, scope=None):
    config = ValidateConfig.model_validate({"value": value, "schema": schema or {}, "rules": rules or []}).model_dump(by_alias=True)
    return ValidateNode().run(config, NodeContext(node_id="check", scope=scope or {}))


def test_a_matching_value_goes_out_through_valid():
    result = check({"title": "Hello", "tags": ["a"]}, ANSWER_SCHEMA)
    assert result.ports == ["valid"]
    assert result.output == {"valid": True, "value": {"title": "Hello", "tags": ["a"]}, "errors": []}


def test_every_problem_is_listed_with_its_path():
    result = check({"title": "Hi", "tags": ["a", "b", "c", 4]}, ANSWER_SCHEMA)
    assert result.ports == ["invalid"] and result.output["valid"] is False
    paths = {e["path"]: e["message"] for e in result.output["errors"]}
    assert set(paths) == {"tags", "tags/3", "title"}
    assert "is too short" in paths["title"] and "4 is not of type 'string'" in paths["tags/3"]


def test_a_missing_field_is_reported_at_the_root():
    result = check({"title": "Hello"}, ANSWER_SCHEMA)
    assert result.output["errors"] == [{"path": "(root)", "message": "'tags' is a required property"}]


def test_a_json_reply_in_text_is_parsed_when_the_schema_expects_an_object():
    reply = '```json\n{"title": "Parsed", "tags": []}\n```'
    result = check(reply, ANSWER_SCHEMA)
    assert result.ports == ["valid"] and result.output["value"] == {"title": "Parsed", "tags": []}


def test_text_that_is_not_json_is_invalid_not_a_crash():
    result = check("Sure! Here is your JSON: {oops", ANSWER_SCHEMA)
    assert result.ports == ["invalid"]
    assert "is not of type 'object'" in result.output["errors"][0]["message"]


def test_a_string_stays_a_string_when_the_schema_wants_one():
    result = check('{"a": 1}', {"type": "string"})
    assert result.ports == ["valid"] and result.output["value"] == '{"a": 1}'


def test_rules_see_the_value_and_the_run_scope():
    rules = [
        {"expression": "value.tags | length >= input.min_tags", "message": "add more tags"},
        {"expression": "value.title != value.title | upper", "message": "do not shout"},
    ]
    result = check({"title": "LOUD", "tags": ["x"]}, ANSWER_SCHEMA, rules, scope={"input": {"min_tags": 2}})
    assert result.ports == ["invalid"]
    assert result.output["errors"] == [{"path": "(rules[0])", "message": "add more tags"}, {"path": "(rules[1])", "message": "do not shout"}]
    assert check({"title": "Calm", "tags": ["x", "y"]}, ANSWER_SCHEMA, rules, scope={"input": {"min_tags": 2}}).ports == ["valid"]


def test_rules_wait_for_the_schema():
    # `value.tags` would not exist; the schema's error is the one reported.
    result = check({"title": "Hello"}, ANSWER_SCHEMA, [{"expression": "value.tags | length > 0", "message": "no tags"}])
    assert [e["message"] for e in result.output["errors"]] == ["'tags' is a required property"]


def wf(nodes, edges):
    return {"format": "orchestrator.workflow/v1", "name": "t", "settings": {"max_steps": 50},
            "nodes": [{"id": "start", "type": "start"}] + nodes, "edges": edges}


def test_an_invalid_schema_is_reported_on_the_node_at_save_time():
    graph = wf([{"id": "check", "type": "validate", "config": {"value": "{{ input }}", "schema": {"type": "objekt"}}}],
               [{"source": "start", "target": "check"}])
    errors = [e for e in graph_module.validate(graph) if e.severity == "error"]
    assert len(errors) == 1 and errors[0].node == "check"
    assert "not a valid JSON Schema at type" in errors[0].message and "objekt" in errors[0].message


def test_a_rule_with_a_syntax_error_is_reported_at_save_time():
    graph = wf([{"id": "check", "type": "validate", "config": {"value": "{{ input }}", "rules": [{"expression": "value >", "message": "m"}]}}],
               [{"source": "start", "target": "check"}])
    errors = graph_module.validate(graph)
    assert any(e.node == "check" and e.field == "rules[0].expression" and "syntax error" in e.message for e in errors), errors


def test_value_is_required():
    graph = wf([{"id": "check", "type": "validate", "config": {"schema": {}}}], [{"source": "start", "target": "check"}])
    assert any(e.node == "check" and "config.value: required" in e.message for e in graph_module.validate(graph))


def test_the_invalid_branch_repairs_with_the_error_list(run_graph):
    graph = wf(
        [
            {"id": "check", "type": "validate", "config": {"value": "{{ input.reply }}", "schema": ANSWER_SCHEMA}},
            {"id": "ok", "type": "output", "config": {"value": "{{ nodes.check.output.value.title }}"}},
            {"id": "repair", "type": "transform",
             "config": {"value": "Fix: {% for e in nodes.check.output.errors %}{{ e.path }}: {{ e.message }}; {% endfor %}"}},
            {"id": "failed", "type": "output", "config": {"value": "{{ nodes.repair.output }}"}},
        ],
        [
            {"source": "start", "target": "check"},
            {"source": "check", "source_port": "valid", "target": "ok"},
            {"source": "check", "source_port": "invalid", "target": "repair"},
            {"source": "repair", "target": "failed"},
        ],
    )
    good = run_graph(graph, {"reply": '{"title": "Launch plan", "tags": ["q3"]}'})
    assert good.status == "succeeded" and good.output == "Launch plan"
    assert good.steps.get(node_id="repair").status == "skipped"

    bad = run_graph(graph, {"reply": '{"title": "Launch plan"}'})
    assert bad.status == "succeeded" and bad.output == "Fix: (root): 'tags' is a required property; "
    assert bad.steps.get(node_id="ok").status == "skipped"


@pytest.mark.parametrize("schema", [{"type": "array"}, {"type": ["object", "null"]}, {"properties": {"a": {}}}])
def test_containers_in_any_spelling_are_parsed(schema):
    value = "[1]" if schema.get("type") == "array" else '{"a": 1}'
    assert not isinstance(check(value, schema).output["value"], str)
