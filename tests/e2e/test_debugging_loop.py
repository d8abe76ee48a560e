"""The loop a prompt engineer lives in, in a real browser: run, change a
downstream prompt, re-run from that node, and get the new prompt executed with
the upstream steps reused (and not paid for twice)."""
from __future__ import annotations

import re

import pytest

from editor import services
from editor.models import Run
from tests.conftest import wait_for_run

from .conftest import real_password, shot, sign_in
from .test_editor import node, open_node, type_in_editor

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def chain():
    return {"format": "orchestrator.workflow/v1", "name": "Chain",
            "inputs": {"type": "object", "properties": {"topic": {"type": "string"}}},
            "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
                      {"id": "draft", "type": "llm", "position": {"x": 0, "y": 150}, "config": {"prompt": "Draft a line about {{ input.topic }}"}},
                      {"id": "polish", "type": "llm", "position": {"x": 0, "y": 300}, "config": {"prompt": "Polish: {{ nodes.draft.output }}"}},
                      {"id": "out", "type": "output", "position": {"x": 0, "y": 450}, "config": {"value": "{{ nodes.polish.output }}"}}],
            "edges": [{"source": "start", "target": "draft"}, {"source": "draft", "target": "polish"}, {"source": "polish", "target": "out"}]}


def test_edit_a_prompt_rerun_from_it_and_upstream_is_reused(page, live_daphne, worker, personas, settings):
    settings.OPENAI_API_KEY = ""  # the offline demo model answers
    alice = personas["alice"]
    real_password(alice, "alice-password")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=chain())
    first = services.start_run(workflow=workflow, version=workflow.latest_version, graph=workflow.latest_version.graph,
                               team=alice.personal_team, user=alice, run_input={"topic": "owls"}, trigger="test")
    first = wait_for_run(first.pk)
    assert first.status == Run.Status.SUCCEEDED, first.error

    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/?run={first.pk}")
    page.wait_for_function("() => /succeeded/i.test(document.querySelector('[data-testid=run-status]')?.textContent || '')", timeout=20000)
    open_node(page, "polish")
    type_in_editor(page, 0, "Shorten: {{ nodes.draft.output }}")
    page.get_by_test_id("unsaved").wait_for()
    page.get_by_role("tab", name="Run").last.click()
    page.get_by_test_id("rerun-from").click()

    page.wait_for_function(f"() => !new URL(location.href).searchParams.get('run')?.match(/^{first.pk}$/)", timeout=20000)
    page.wait_for_function("() => /succeeded/i.test(document.querySelector('[data-testid=run-status]')?.textContent || '')", timeout=30000)
    new = Run.objects.exclude(pk=first.pk).get(workflow=workflow)
    new = wait_for_run(new.pk)
    assert new.rerun_of_id == first.pk and new.from_node == "polish"
    assert new.version.number == 2 and new.version.message == "Re-run from polish"
    assert new.steps.get(node_id="polish").input["prompt"].startswith("Shorten:")
    assert new.steps.get(node_id="draft").reused == "rerun"
    # Saved as a version: the editor is not left read-only on an old one.
    assert not page.get_by_test_id("unsaved").is_visible()
    # Upstream marked reused on the canvas, the re-run node not.
    node(page, "draft").get_by_test_id("badge-reused").wait_for()
    assert node(page, "polish").get_by_test_id("badge-reused").count() == 0
    # The totals count only what ran again.
    polish = new.steps.get(node_id="polish")
    assert new.tokens == polish.tokens_in + polish.tokens_out < first.tokens
    page.wait_for_function("(n) => (document.querySelector('[data-testid=run-tokens]')?.textContent || '').replace(/\\D/g, '') === String(n)",
                           arg=new.tokens, timeout=10000)
    shot(page, "10-rerun-reused")

    # Compare the two runs node by node: the re-run node's output differs, the reused one's does not.
    page.get_by_test_id("rerun-of").get_by_role("button").click()
    compare = page.get_by_test_id("run-compare")
    compare.get_by_test_id("compare-row-polish").wait_for(timeout=10000)
    assert compare.get_by_test_id("compare-row-polish").get_attribute("data-differs") == "yes"
    assert compare.get_by_test_id("compare-row-draft").get_attribute("data-differs") == "no"
    assert "reused" in compare.get_by_test_id("compare-row-draft").text_content()
    compare.get_by_test_id("text-diff").first.wait_for()
    # It fits the right panel: nothing cut off at its edge (six columns did not), every tab reachable.
    right = page.locator(".wf-right")
    assert right.evaluate("e => e.scrollWidth <= e.clientWidth"), "the compare table is wider than the panel"
    panel, tab = right.bounding_box(), page.get_by_role("tab", name="Triggers").bounding_box()
    assert tab["x"] + tab["width"] <= panel["x"] + panel["width"]
    shot(page, "11-compare-runs")

    # Version compare shows how the prompt changed, not only that it did.
    page.get_by_role("tab", name="Versions").click()
    page.get_by_label("Compare from version 1").check()
    page.get_by_label("Compare to version 2").check()
    page.get_by_role("button", name="Compare", exact=True).click()
    changed = page.get_by_test_id("diff-node-polish")
    changed.wait_for()
    assert "config.prompt" in changed.text_content()
    assert changed.locator("[data-testid=diff-before] del").first.text_content().strip() == "Polish"
    assert changed.locator("[data-testid=diff-after] ins").first.text_content().strip() == "Shorten"
    shot(page, "12-version-field-diff")


def test_a_warning_shows_on_its_node_distinct_from_errors(page, live_daphne, worker, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    doc = chain()
    doc["nodes"].append({"id": "lost", "type": "output", "position": {"x": 300, "y": 450}, "config": {"value": "x"}})
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=doc)
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
    warning = node(page, "lost").get_by_test_id("node-warning")
    warning.wait_for(timeout=10000)
    assert "cannot be reached" in warning.text_content()
    assert node(page, "lost").get_by_test_id("node-problem").count() == 0
    assert node(page, "draft").get_by_test_id("node-warning").count() == 0
    assert "1 warning" in page.get_by_test_id("validity").text_content()
    # The shortcut help says Escape closes dialogs: it does.
    page.get_by_role("button", name="Keyboard shortcuts").click()
    page.get_by_role("dialog").wait_for()
    page.keyboard.press("Escape")
    page.get_by_role("dialog").wait_for(state="detached", timeout=3000)


def test_a_note_renders_markdown_and_a_script_payload_stays_inert(page, live_daphne, worker, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    doc = chain()
    payload = ('**bold** and a [link](https://example.com)\n\n<script>window.pwned = 1</script>'
               '<img src="x" onerror="window.pwned = 2"> [click](javascript:window.pwned=3)')
    doc["nodes"].append({"id": "note", "type": "note", "position": {"x": 300, "y": 0}, "config": {"text": payload}})
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=doc)
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
    note = node(page, "note")
    note.locator("strong").wait_for(timeout=10000)
    assert note.locator("strong").text_content() == "bold"
    assert note.locator("script").count() == 0 and note.locator("[onerror]").count() == 0
    hrefs = [a.get_attribute("href") or "" for a in note.locator("a").all()]
    assert "https://example.com" in hrefs and not any(h.startswith("javascript") for h in hrefs)
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.pwned") is None
    note.get_by_test_id("markdown-toggle").click()
    assert "**bold**" in note.get_by_test_id("markdown-raw").text_content()
