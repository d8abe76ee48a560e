"""The forms speak English, in a real browser: labels from the schemas'
titles, a JSON Schema field that is a code editor checking the schema as it
is typed, a missing required input named in words, and long names limited
where they are typed and cut with an ellipsis in the header."""
from __future__ import annotations

import pytest

from editor import services
from editor.models import Run

from .conftest import real_password, shot, sign_in
from .test_editor import open_node

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def workflow_doc():
    return {"format": "orchestrator.workflow/v1", "name": "Forms",
            "inputs": {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]},
            "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
                      {"id": "write", "type": "llm", "position": {"x": 0, "y": 150}, "config": {"prompt": "About {{ input.topic }}"}},
                      {"id": "act", "type": "agent", "position": {"x": 300, "y": 150}, "config": {"goal": "Look up {{ input.topic }}"}},
                      {"id": "out", "type": "output", "position": {"x": 0, "y": 300}, "config": {"value": "{{ nodes.write.output }}"}}],
            "edges": [{"source": "start", "target": "write"}, {"source": "write", "target": "out"}, {"source": "start", "target": "act"}]}


def test_labels_json_schema_editor_required_input_and_long_names(page, live_daphne, transactional_db, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=workflow_doc())
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")

    # Titles from the schemas, not "Max Cost Usd".
    open_node(page, "act")
    panel = page.get_by_test_id("config-panel")
    labels = panel.locator("label").all_text_contents()
    assert "Max cost (USD)" in labels and "Timeout (s)" in labels and "HTTP tools" in panel.text_content()
    assert not any("Usd" in label for label in labels)

    # A missing required input is named, in words.
    page.get_by_role("tab", name="Run").first.click()
    page.get_by_test_id("run-button").click()
    error = page.locator(".input-form").get_by_text("“topic” is required: fill it in.")
    error.wait_for(timeout=5000)
    assert "must have required property" not in page.locator(".input-form").text_content()
    assert Run.objects.filter(workflow=workflow).count() == 0

    # The llm node's JSON schema is a code editor that checks the schema.
    open_node(page, "write")
    editor = page.get_by_label("JSON schema", exact=True)
    editor.click()
    page.keyboard.type('{"type": "strin"', delay=5)  # closeBrackets adds the closing brace
    problem = page.get_by_test_id("config-panel").get_by_test_id("json-problem")
    page.wait_for_function("() => /Not a valid JSON Schema: type must be one of/.test(document.querySelector('.config-panel [data-testid=json-problem]')?.textContent || '')", timeout=5000)
    assert '"string"' in problem.text_content()
    page.keyboard.press("Control+A")
    page.keyboard.type('{"type": "string"', delay=5)
    page.wait_for_function("() => !(document.querySelector('.config-panel [data-testid=json-problem]')?.textContent)", timeout=5000)
    shot(page, "23-json-schema-editor")

    # Long names: cut where typed, an ellipsis in the header, the toolbar still on screen.
    page.get_by_role("tab", name="Workflow").click()
    name = page.locator("#wf-name")
    assert name.get_attribute("maxlength") == "200"
    name.fill("A very long workflow name " * 10)
    assert len(name.input_value()) == 200
    heading = page.locator(".wf-title h1")
    assert heading.evaluate("h => h.scrollWidth > h.clientWidth")
    save = page.get_by_test_id("save").bounding_box()
    assert save is not None and save["x"] + save["width"] <= 1280
    assert page.locator("#save-message").get_attribute("maxlength") == "500"
    open_node(page, "write")
    assert page.locator("#node-name").get_attribute("maxlength") == "200"
    shot(page, "24-long-name-header")
