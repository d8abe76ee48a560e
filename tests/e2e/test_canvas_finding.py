"""Finding and adding things on the canvas, in a real browser: Ctrl+F finds a
node by name and centres it, Z zooms to the selection, an edge dropped on
empty canvas opens a node picker that adds a connected node, a palette add
goes below the selected node connected to it, duplicates never land on their
original, and the help says how to pan."""
from __future__ import annotations

import pytest

from editor import services

from .conftest import real_password, shot, sign_in
from .test_editor import center, node, wait_saved

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def chain():
    return {"format": "orchestrator.workflow/v1", "name": "Finding",
            "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
                      {"id": "draft", "type": "transform", "position": {"x": 0, "y": 150}, "config": {"value": "d"}},
                      {"id": "polish", "type": "transform", "position": {"x": 0, "y": 300}, "config": {"value": "p"}},
                      {"id": "out", "type": "output", "position": {"x": 0, "y": 450}, "config": {"value": "{{ nodes.polish.output }}"}},
                      {"id": "helper", "name": "Far away helper", "type": "transform", "position": {"x": 1800, "y": 900}, "config": {"value": "h"}}],
            "edges": [{"source": "start", "target": "draft"}, {"source": "draft", "target": "polish"}, {"source": "polish", "target": "out"}]}


def canvas_middle(page):
    box = page.get_by_test_id("canvas").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def is_selected(page, node_id: str) -> bool:
    return "selected" in (node(page, node_id).get_attribute("class") or "")


def saved_graph(page, workflow):
    page.keyboard.press("Control+s")
    wait_saved(page)
    return workflow.latest_version.graph


def test_find_zoom_pick_a_node_for_a_dropped_edge_and_add_without_overlap(page, live_daphne, transactional_db, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=chain())
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
    node(page, "helper").wait_for()
    page.get_by_role("tab", name="Build").click()

    # Ctrl+F: type part of the name, Enter: selected and centred.
    page.get_by_test_id("canvas").click(position={"x": 30, "y": 30})
    page.keyboard.press("Control+f")
    finder = page.get_by_test_id("node-finder")
    finder.get_by_label("Find a node by name").fill("far away")
    assert finder.get_by_role("option").count() == 1
    page.keyboard.press("Enter")
    finder.wait_for(state="detached")
    page.wait_for_timeout(400)  # the view animates to it
    assert is_selected(page, "helper")
    (cx, cy), (nx, ny) = canvas_middle(page), center(node(page, "helper"))
    assert abs(cx - nx) < 40 and abs(cy - ny) < 40
    shot(page, "25-finder-centred")
    page.keyboard.press("Control+f")
    finder.wait_for()
    page.keyboard.press("Escape")  # closes it, as every dialog of the editor
    finder.wait_for(state="detached")

    # Z: zoom to the selection (draft), which then is in the middle, bigger.
    page.keyboard.press("f")
    page.wait_for_timeout(400)
    node(page, "draft").locator(".gnode-name").click()
    before = node(page, "draft").bounding_box()["width"]
    page.keyboard.press("z")
    page.wait_for_timeout(400)
    after = node(page, "draft").bounding_box()
    (cx, cy), (nx, ny) = canvas_middle(page), center(node(page, "draft"))
    assert after["width"] > before and abs(cx - nx) < 40 and abs(cy - ny) < 40
    page.keyboard.press("f")  # everything back in view
    page.wait_for_timeout(400)

    # Drag from draft's output to empty canvas: the picker adds a connected node there.
    x1, y1 = center(node(page, "draft").locator('.react-flow__handle[data-handleid="out"]'))
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move(x1 + 120, y1 + 30, steps=6)
    page.mouse.move(x1 + 260, y1 + 40, steps=6)
    page.mouse.up()
    picker = page.get_by_test_id("node-picker")
    picker.wait_for()
    assert picker.get_by_role("option", name="Start").count() == 0  # nothing that cannot take an edge
    picker.get_by_label("Search node types to add").fill("transform")
    shot(page, "26-edge-drop-picker")
    page.keyboard.press("Enter")
    picker.wait_for(state="detached")
    node(page, "transform").wait_for()
    dropped = node(page, "transform").bounding_box()
    assert abs(dropped["x"] + dropped["width"] / 2 - (x1 + 260)) < 60 and abs(dropped["y"] - (y1 + 40)) < 60

    # A palette click with polish selected: below polish, connected from it.
    node(page, "polish").locator(".gnode-name").click()
    page.get_by_test_id("palette-transform").click()
    node(page, "transform_2").wait_for()
    assert node(page, "transform_2").bounding_box()["y"] > node(page, "polish").bounding_box()["y"] + 40

    # Duplicate twice: neither copy on the original nor on the other copy.
    node(page, "draft").locator(".gnode-name").click()
    page.keyboard.press("Control+d")
    node(page, "draft_2").wait_for()
    node(page, "draft").locator(".gnode-name").click()
    page.keyboard.press("Control+d")
    node(page, "draft_3").wait_for()

    graph = saved_graph(page, workflow)
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert ("draft", "transform") in edges and ("polish", "transform_2") in edges
    positions = {n["id"]: (n["position"]["x"], n["position"]["y"]) for n in graph["nodes"]}
    assert len({positions["draft"], positions["draft_2"], positions["draft_3"]}) == 3
    assert positions["transform_2"][1] > positions["polish"][1]

    # The help says how to pan and lists the new keys.
    page.get_by_role("button", name="Keyboard shortcuts").click()
    help_text = page.get_by_role("dialog").text_content()
    assert "Pan the canvas" in help_text and "Ctrl+F" in help_text and "Zoom to the selected nodes" in help_text
    page.keyboard.press("Escape")
