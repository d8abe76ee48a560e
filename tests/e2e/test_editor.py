"""The editor in a real browser: from an empty canvas, build the
evaluator–optimizer of DESIGN.md by drag and drop only, configure it through
the forms and the prompt editor, save, run it on the offline demo model and
debug it; undo/redo, copy-paste, a concurrent-edit conflict between two
browser contexts, export and re-import."""
from __future__ import annotations

import json
import re

import pytest

from editor.models import Workflow

from .conftest import real_password, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def canvas_box(page):
    return page.get_by_test_id("canvas").bounding_box()


def drop(page, node_type: str, x: float, y: float) -> None:
    """Drag a palette entry onto the canvas at (x, y) within the canvas."""
    page.drag_and_drop(f"[data-testid=palette-{node_type}]", "[data-testid=canvas]", target_position={"x": x, "y": y})


def node(page, node_id: str):
    return page.locator(f'.react-flow__node[data-id="{node_id}"]')


def center(locator):
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def connect(page, source: str, port: str, target: str) -> None:
    """Drag from a source port to the target's input with the mouse, as a person does."""
    x1, y1 = center(node(page, source).locator(f'.react-flow__handle[data-handleid="{port}"]'))
    x2, y2 = center(node(page, target).locator('.react-flow__handle[data-handleid="in"]'))
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move((x1 + x2) / 2, (y1 + y2) / 2, steps=8)
    page.mouse.move(x2, y2, steps=8)
    page.mouse.up()
    # Validation answers after each edit and may grow a node (its problem text), moving
    # the ports: let it settle before the next drag.
    page.wait_for_timeout(600)


def type_in_editor(page, editor_index: int, text: str) -> None:
    """Type into the config panel's n-th code editor (CodeMirror) key by key."""
    content = page.locator(".config-panel .cm-content").nth(editor_index)
    content.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text, delay=5)
    page.keyboard.press("Escape")  # close a completion popup, if any


def open_node(page, node_id: str) -> None:
    node(page, node_id).locator(".gnode-name").click()
    page.get_by_role("tab", name="Node").click()
    page.get_by_test_id("config-panel").wait_for()


def edge_count(page) -> int:
    return page.locator(".react-flow__edge").count()


def wait_saved(page) -> None:
    page.wait_for_function("() => !document.querySelector('[data-testid=unsaved]')", timeout=10000)


def test_build_run_debug_and_share_the_evaluator_optimizer(browser, page, live_daphne, worker, personas, settings):
    settings.OPENAI_API_KEY = ""  # the offline demo model answers
    settings.DEMO_TOKEN_DELAY_MS = 15
    alice = personas["alice"]
    real_password(alice, "alice-password")
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/new/")
    page.get_by_test_id("palette").wait_for()
    shot(page, "editor-01-empty")

    # ---- build by drag and drop
    for node_type, x, y in [("start", 200, 60), ("loop", 200, 170), ("llm", 200, 280), ("llm", 200, 390), ("condition", 200, 500), ("output", 470, 280)]:
        drop(page, node_type, x, y)
    for node_id in ["start", "loop", "llm", "llm_2", "condition", "output"]:
        node(page, node_id).wait_for()
    page.wait_for_timeout(600)
    connect(page, "start", "out", "loop")
    connect(page, "loop", "next", "llm")
    connect(page, "llm", "out", "llm_2")
    connect(page, "llm_2", "out", "condition")
    connect(page, "condition", "true", "output")
    connect(page, "condition", "false", "loop")  # the loop's back-edge
    connect(page, "loop", "done", "output")
    shot(page, "editor-02-connected")
    assert edge_count(page) == 7
    # A cycle that skips the loop is refused while dragging.
    connect(page, "llm_2", "out", "llm")
    assert edge_count(page) == 7
    shot(page, "editor-02-connected")

    # ---- configure through the forms and the prompt editor
    open_node(page, "llm")
    page.get_by_label("Name", exact=True).fill("Generator")
    type_in_editor(page, 0, "Write code for: {{ input.spec }} Feedback: {{ nodes.llm_2.output | default('none') }}")
    open_node(page, "llm_2")
    page.get_by_label("Name", exact=True).fill("Evaluator")
    content = page.locator(".config-panel .cm-content").nth(0)
    content.click()
    page.keyboard.type("Reply APPROVED or list issues: {{ nodes.ll", delay=5)
    # Completion offers what is in scope here: the generator's output, upstream.
    page.locator(".cm-tooltip-autocomplete").get_by_text("nodes.llm.output", exact=True).wait_for()
    shot(page, "editor-03-completion")
    page.keyboard.press("Escape")
    page.keyboard.type("m.output }}", delay=5)
    open_node(page, "condition")
    type_in_editor(page, 0, "nodes.llm_2.output.strip() == 'APPROVED'")
    open_node(page, "output")
    type_in_editor(page, 0, "{{ nodes.llm.output }}")
    page.get_by_role("tab", name="Workflow").click()
    page.get_by_label("Name", exact=True).fill("Evaluator–optimizer")
    page.get_by_role("button", name="+ Add input").click()
    name_field = page.get_by_label("Input 1 name")
    name_field.fill("spec")
    name_field.blur()
    page.get_by_label("Input spec required").check()
    page.wait_for_function("() => /valid/.test(document.querySelector('[data-testid=validity]')?.textContent || '') && !/problem/.test(document.querySelector('[data-testid=validity]')?.textContent || '')", timeout=10000)
    shot(page, "editor-04-configured")

    # ---- save: the first save creates the workflow
    page.get_by_test_id("save").click()
    page.wait_for_function("() => /^\\/workflows\\/\\d+\\/$/.test(location.pathname)")  # replaceState, no navigation
    wait_saved(page)
    workflow = Workflow.objects.get(name="Evaluator–optimizer")
    graph = workflow.latest_version.graph
    assert {n["id"] for n in graph["nodes"]} == {"start", "loop", "llm", "llm_2", "condition", "output"}
    assert {"source": "condition", "source_port": "false", "target": "loop"} in graph["edges"]

    # ---- run on the demo model; tokens stream, the loop counter moves
    page.get_by_role("tab", name="Run").first.click()
    page.locator("#input_spec").fill("a palindrome checker")
    page.get_by_role("button", name=re.compile(r"\bRun$")).click()
    page.get_by_test_id("run-status").wait_for()
    page.wait_for_function("() => (document.querySelector('[data-testid=step-output]')?.textContent || '').length > 10", timeout=20000)
    first = page.get_by_test_id("step-output").text_content()
    page.wait_for_function("(n) => (document.querySelector('[data-testid=step-output]')?.textContent || '').length > n", arg=len(first), timeout=20000)
    shot(page, "editor-05-streaming")
    loop_badge = node(page, "loop").get_by_test_id("badge-loop")
    loop_badge.wait_for(timeout=20000)
    page.wait_for_function("() => /2/.test(document.querySelector('.react-flow__node[data-id=loop] [data-testid=badge-loop]')?.textContent || '')", timeout=30000)
    page.wait_for_function("() => /succeeded/i.test(document.querySelector('[data-testid=run-status]')?.textContent || '')", timeout=60000)
    assert re.search(r"[23]/3", loop_badge.text_content())
    assert "[demo]" in page.get_by_test_id("run-output").text_content()
    page.get_by_test_id("budgets").wait_for()
    shot(page, "editor-06-finished")

    # ---- inspect the evaluator's second iteration
    node(page, "llm_2").locator(".gnode-name").click()
    page.get_by_role("tab", name="Run").last.click()
    activations = page.get_by_role("group", name="Activations of this node").get_by_role("button")
    assert activations.count() >= 2
    activations.nth(1).click()
    details = page.get_by_test_id("step-details")
    assert re.search(r"(^|#)2$", details.get_attribute("data-step-key"))
    assert "Reply APPROVED" in page.locator(".step-input").text_content()
    shot(page, "editor-07-second-iteration")
    page.get_by_role("tab", name="Timeline").click()
    page.get_by_test_id("timeline").locator(".gantt-bar").first.wait_for()
    shot(page, "editor-08-timeline")

    # ---- undo and redo an edit (delete a node)
    node(page, "output").locator(".gnode-name").click()
    page.keyboard.press("Delete")
    assert node(page, "output").count() == 0
    page.keyboard.press("Control+z")
    node(page, "output").wait_for()
    page.keyboard.press("Control+Shift+z")
    page.wait_for_function("() => !document.querySelector('.react-flow__node[data-id=output]')")
    page.keyboard.press("Control+z")
    node(page, "output").wait_for()
    wait_saved(page)  # back where we were: nothing to save

    # ---- copy and paste a node
    node(page, "llm").locator(".gnode-name").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    node(page, "llm_3").wait_for()
    shot(page, "editor-09-pasted")
    page.keyboard.press("Control+z")
    page.wait_for_function("() => !document.querySelector('.react-flow__node[data-id=llm_3]')")

    # ---- a concurrent edit in another browser context
    other = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page2 = other.new_page()
        sign_in(page2, live_daphne, "alice", "alice-password")
        page2.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
        open_node(page2, "condition")
        page2.get_by_label("Name", exact=True).fill("Approved?")
        page2.get_by_test_id("save").click()
        wait_saved(page2)
    finally:
        other.close()
    open_node(page, "llm")
    page.get_by_label("Name", exact=True).fill("Writer")
    page.get_by_test_id("save").click()
    dialog = page.get_by_test_id("conflict-dialog")
    dialog.wait_for()
    assert "condition" in dialog.get_by_test_id("diff-summary").text_content()
    shot(page, "editor-10-conflict")
    dialog.get_by_role("button", name="Merge and save").click()
    wait_saved(page)
    latest = workflow.versions.order_by("-number").first().graph
    names = {n["id"]: n.get("name") for n in latest["nodes"]}
    assert names["llm"] == "Writer" and names["condition"] == "Approved?"

    # ---- export, and import it back as a new workflow
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    exported = json.loads(open(download.value.path()).read())
    assert exported["format"] == "orchestrator.workflow/v1" and len(exported["nodes"]) == 6
    exported["name"] = "Re-imported"
    page.get_by_role("button", name="Import").click()
    page.get_by_label("Or paste the JSON").fill(json.dumps(exported))
    page.get_by_role("button", name="Import pasted JSON").click()
    page.wait_for_function(f"() => !location.pathname.endsWith('/{workflow.pk}/')")
    node(page, "llm_2").wait_for()
    assert Workflow.objects.filter(name="Re-imported").exists()
    shot(page, "editor-11-imported")
