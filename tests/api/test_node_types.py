"""GET /api/node-types/: the registry as the canvas reads it. The palette,
the generic node and the config form are drawn from this, so every type must
be here with a usable JSON Schema, its ports and a description."""
from __future__ import annotations

import jsonschema
import pytest

from engine.nodes import NODE_TYPES

URL = "/api/node-types/"


@pytest.fixture
def node_types(personas, client_for):
    r = client_for(personas["mallory"]).get(URL)
    assert r.status_code == 200
    return {item["type"]: item for item in r.json()}


def test_every_registered_type_is_listed_once(personas, client_for):
    types = [item["type"] for item in client_for(personas["carol"]).get(URL).json()]

    assert sorted(types) == sorted(NODE_TYPES)


@pytest.mark.parametrize("type_name", sorted(NODE_TYPES))
def test_each_type_has_a_json_schema_ports_and_a_description(node_types, type_name):
    item = node_types[type_name]

    schema = item["config_schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert item["description"].strip() and item["label"].strip() and item["category"]
    if item["dynamic_ports"]:
        assert item["output_ports"] is None
    else:
        assert isinstance(item["output_ports"], list)
        assert item["output_ports"] == NODE_TYPES[type_name].output_ports({})


def test_llm_requires_a_prompt(node_types):
    llm = node_types["llm"]
    schema = llm["config_schema"]

    assert "prompt" in schema["required"]
    assert llm["output_ports"] == ["out"] and llm["template_fields"] == ["prompt", "system", "script", "script_pick"]
    # The form the canvas builds refuses what the engine refuses.
    assert not jsonschema.Draft202012Validator(schema).is_valid({})
    assert jsonschema.Draft202012Validator(schema).is_valid({"prompt": "Hi {{ input.name }}", "output": "json"})
    assert not jsonschema.Draft202012Validator(schema).is_valid({"prompt": "Hi", "colour": "red"})


def test_switch_has_dynamic_ports(node_types):
    switch = node_types["switch"]

    assert switch["dynamic_ports"] is True
    assert switch["output_ports"] is None
    assert "cases" in switch["config_schema"]["required"]


def test_fixed_ports_of_flow_nodes(node_types):
    assert node_types["condition"]["output_ports"] == ["true", "false"]
    assert node_types["loop"]["output_ports"] == ["next", "done"]
    assert node_types["output"]["output_ports"] == []
    assert node_types["start"]["has_input"] is False


def test_the_loop_schema_uses_the_documents_key_while(node_types):
    # A form built from the schema must write the key the format reads ("while", not "while_").
    properties = node_types["loop"]["config_schema"]["properties"]

    assert "while" in properties and "while_" not in properties


def test_a_note_is_canvas_only(node_types):
    assert node_types["note"]["executable"] is False


def test_node_types_need_authentication(db):
    from rest_framework.test import APIClient

    r = APIClient().get(URL)

    assert r.status_code in (401, 403)
    assert "error" in r.json()


def test_config_fields_are_titled_in_english_for_the_forms(node_types):
    """The forms label fields with the schema's titles: "Max cost (USD)", not pydantic's "Max Cost Usd"."""
    agent = node_types["agent"]["config_schema"]["properties"]
    http = node_types["http"]["config_schema"]["properties"]
    llm = node_types["llm"]["config_schema"]["properties"]

    assert agent["max_cost_usd"]["title"] == "Max cost (USD)"
    assert agent["timeout_s"]["title"] == "Timeout (s)"
    assert agent["http_tools"]["title"] == "HTTP tools"
    assert http["url"]["title"] == "URL" and http["fail_on_error"]["title"] == "Fail on error"
    assert llm["json_schema"]["title"] == "JSON schema" and llm["max_tokens"]["title"] == "Max tokens"
    assert node_types["fanout"]["config_schema"]["properties"]["on_item_error"]["title"] == "On item error"  # its own title stays
