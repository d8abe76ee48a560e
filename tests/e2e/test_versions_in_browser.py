"""Versions in a real browser (issue 12, "Restore shows the wrong graph"):
restoring while a compare is shown asks first, then leaves the compare and
shows the restored graph; saving after opening a run keeps the editor on the
new version, editable."""
from __future__ import annotations

import pytest

from editor import services
from editor.models import Run
from tests.conftest import wait_for_run

from .conftest import real_password, shot, sign_in
from .test_editor import node, open_node, type_in_editor, wait_saved

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def doc(*middle: str) -> dict:
    """start → each of `middle` (transform nodes) → out, top to bottom."""
    ids = ["start", *middle, "out"]
    nodes = [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}}]
    nodes += [{"id": m, "type": "transform", "position": {"x": 0, "y": 140 * (i + 1)}, "config": {"value": f"{m}!"}} for i, m in enumerate(middle)]
    nodes.append({"id": "out", "type": "output", "position": {"x": 0, "y": 140 * (len(middle) + 1)}, "config": {"value": "done"}})
    return {"format": "orchestrator.workflow/v1", "name": "Versions", "nodes": nodes,
            "edges": [{"source": a, "target": b} for a, b in zip(ids, ids[1:])]}


def canvas_nodes(page) -> set[str]:
    return set(page.locator(".react-flow__node").evaluate_all("els => els.map(e => e.dataset.id)"))


def test_restore_during_a_compare_asks_then_shows_the_restored_graph(page, live_daphne, transactional_db, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=doc())
    services.save_workflow(workflow, user=alice, graph=doc("a"), name=None, description=None, base_version=1)
    services.save_workflow(workflow, user=alice, graph=doc("a", "b"), name=None, description=None, base_version=2)
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
    node(page, "b").wait_for()

    page.get_by_role("tab", name="Versions").click()
    page.get_by_label("Compare from version 2").check()
    page.get_by_label("Compare to version 3").check()
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_test_id("comparing").wait_for()
    restore_v1 = page.locator("table.versions tr", has_text="v1").get_by_role("button", name="Restore")

    # Cancelled: nothing changes.
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    restore_v1.click()
    page.wait_for_timeout(300)
    assert asked and "Restore version 1?" in asked[0]
    assert workflow.versions.count() == 3 and page.get_by_test_id("comparing").is_visible()

    # Confirmed: a new version with v1's graph, shown on the canvas, the compare gone.
    page.once("dialog", lambda d: d.accept())
    restore_v1.click()
    page.wait_for_function("() => document.querySelector('[data-testid=saved-version]')?.textContent === 'v4'", timeout=10000)
    assert page.get_by_test_id("comparing").count() == 0
    page.wait_for_function("() => !document.querySelector('.react-flow__node[data-id=a]')", timeout=5000)
    assert canvas_nodes(page) == {"start", "out"}
    assert page.get_by_test_id("unsaved").count() == 0
    latest = workflow.latest_version
    assert latest.number == 4 and latest.message == "Restored version 1"
    assert [n["id"] for n in latest.graph["nodes"]] == ["start", "out"]
    # And it is the document being edited, not a view: the node form is enabled.
    open_node(page, "out")
    assert page.locator("#node-name").is_enabled()
    shot(page, "22-restored-v1")


def test_saving_after_opening_a_run_stays_on_the_new_version_and_editable(page, live_daphne, worker, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=doc("a"))
    run = services.start_run(workflow=workflow, version=workflow.latest_version, graph=workflow.latest_version.graph,
                             team=alice.personal_team, user=alice, run_input={}, trigger="test")
    assert wait_for_run(run.pk).status == Run.Status.SUCCEEDED
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/?run={run.pk}")
    page.wait_for_function("() => /succeeded/i.test(document.querySelector('[data-testid=run-status]')?.textContent || '')", timeout=20000)

    open_node(page, "a")
    page.locator("#node-name").fill("Shout")
    page.get_by_test_id("unsaved").wait_for()
    page.get_by_test_id("save").click()
    wait_saved(page)

    assert page.get_by_test_id("saved-version").text_content() == "v2"
    assert page.get_by_test_id("showing-run-version").count() == 0  # not flipped to the run's v1, read-only
    assert page.locator("#node-name").is_enabled()
    assert node(page, "a").locator(".gnode-name").text_content() == "Shout"
    assert workflow.versions.count() == 2


def test_the_conflict_dialog_shows_mine_and_theirs_as_a_text_diff_and_keeps_the_side_picked(page, live_daphne, transactional_db, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=doc("draft"))
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
    open_node(page, "draft")
    type_in_editor(page, 0, "Mine: a short line")
    page.get_by_test_id("unsaved").wait_for()

    # Meanwhile a teammate saves another text into the same field of the same node.
    theirs = doc("draft")
    theirs["nodes"][1]["config"]["value"] = "Theirs: a long line"
    services.save_workflow(workflow, user=alice, graph=theirs, name=None, description=None, base_version=1)

    page.get_by_test_id("save").click()
    dialog = page.get_by_test_id("conflict-dialog")
    dialog.wait_for()
    choice = dialog.locator(".conflict-row", has_text="draft")
    field = choice.get_by_test_id("field-diffs")
    assert "config.value" in field.text_content()
    assert [t.strip() for t in field.locator(".text-diff-label").all_text_contents()] == ["Mine", "Theirs"]
    assert field.get_by_test_id("diff-before").locator("del").first.text_content().strip().startswith("Mine")
    assert field.get_by_test_id("diff-after").locator("ins").first.text_content().strip().startswith("Theirs")
    shot(page, "versions-04-conflict-field-diff")
    assert dialog.get_by_role("button", name="Merge and save").is_disabled()  # a side to pick first
    choice.get_by_label("Theirs").check()
    dialog.get_by_role("button", name="Merge and save").click()
    wait_saved(page)
    # Theirs picked for the only node both changed: the result is their version, nothing of mine left to save.
    latest = workflow.versions.order_by("-number").first()
    assert next(n for n in latest.graph["nodes"] if n["id"] == "draft")["config"]["value"] == "Theirs: a long line"
    assert "Theirs: a long line" in page.locator(".config-panel .cm-content").first.text_content()
