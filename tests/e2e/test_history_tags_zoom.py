"""Three things a user of the canvas reaches for, in a real browser: the run
history hides an experiment's runs until asked (they would bury the manual
ones) and filters by version; the Workflow tab edits the tags the list page
filters by (saved at once, no version); a button beside the zoom controls
zooms to the selection (the Z key's twin)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from editor import services
from editor.models import Run

from .conftest import real_password, shot, sign_in
from .test_canvas_finding import canvas_middle, chain
from .test_editor import center, node

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_history(page, expected: list[str]) -> None:
    page.wait_for_function(
        "(want) => JSON.stringify([...document.querySelectorAll('[data-testid=run-history] .history-id')].map(e => e.textContent.trim()))"
        " === JSON.stringify(want)",
        arg=expected, timeout=20000)  # the history refreshes every 3 s; a loaded machine is slow


def test_history_hides_experiment_runs_tags_are_edited_in_the_workflow_tab_and_a_button_zooms(page, live_daphne, transactional_db, personas):
    alice = personas["alice"]
    real_password(alice, "alice-password")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=chain())
    v1 = workflow.latest_version
    workflow, _ = services.save_workflow(workflow, user=alice, graph={**chain(), "description": "v2"}, name=None, description=None, base_version=1)
    v2 = workflow.latest_version

    def run(version, trigger):
        return Run.objects.create(workflow=workflow, version=version, graph=version.graph, team=workflow.team, input={"topic": "owls"},
                                  status="succeeded", trigger=trigger).pk

    manual_v1 = run(v1, "manual")
    experiment = [run(v2, "experiment") for _ in range(5)]  # newer than the manual runs, as an experiment's are
    manual_v2 = run(v2, "manual")
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
    node(page, "helper").wait_for()
    page.get_by_role("tab", name="Run").first.click()

    # By default: the manual runs only, the experiment's five left out.
    wait_history(page, [f"#{manual_v2}", f"#{manual_v1}"])
    shot(page, "30-history-without-experiment-runs")
    page.get_by_label("Filter runs by trigger").select_option("experiment")
    wait_history(page, [f"#{i}" for i in reversed(experiment)])
    page.get_by_label("Filter runs by trigger").select_option(label="any trigger")
    wait_history(page, [f"#{manual_v2}", *[f"#{i}" for i in reversed(experiment)], f"#{manual_v1}"])
    page.get_by_label("Filter runs by version").fill("1")
    wait_history(page, [f"#{manual_v1}"])
    # Dates: from tomorrow on there is nothing; up to today, the same run again.
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    page.get_by_label("Runs since (date)").fill(tomorrow)
    page.get_by_text("No runs match.").wait_for()
    page.get_by_label("Runs since (date)").fill("")
    page.get_by_label("Runs until (date)").fill(timezone.localdate().isoformat())
    wait_history(page, [f"#{manual_v1}"])

    # Tags in the Workflow tab: saved at once, lower-cased by the server, no new version.
    page.get_by_role("tab", name="Workflow").click()
    tags = page.get_by_test_id("workflow-tags")
    tags.get_by_label("Tags").fill("Support, prod")
    tags.get_by_role("button", name="Save tags").click()
    tags.get_by_text("Tags saved.").wait_for()
    workflow.refresh_from_db()
    assert workflow.tags == ["support", "prod"]
    assert workflow.versions.count() == 2
    assert tags.get_by_label("Tags").input_value() == "support, prod"
    assert tags.get_by_role("button", name="Save tags").is_disabled()  # nothing left to save
    tags.get_by_label("Tags").fill("no/slash")
    tags.get_by_role("button", name="Save tags").click()
    alert = tags.get_by_role("alert")
    alert.wait_for()
    assert "no/slash" in alert.text_content()
    shot(page, "31-workflow-tab-tags")

    # The zoom-to-selection button: disabled with nothing selected, then zooms onto the selected node.
    button = page.get_by_test_id("zoom-to-selection")
    assert button.is_disabled()
    page.get_by_role("tab", name="Build").click()
    node(page, "draft").locator(".gnode-name").click()
    before = node(page, "draft").bounding_box()["width"]
    assert button.is_enabled()
    button.click()
    page.wait_for_timeout(500)  # the view animates
    (cx, cy), (nx, ny) = canvas_middle(page), center(node(page, "draft"))
    assert node(page, "draft").bounding_box()["width"] > before
    assert abs(cx - nx) < 40 and abs(cy - ny) < 40
    shot(page, "32-zoomed-to-selection")

    # An experiment's run opened on the canvas (from its experiment's page): the history leaves it
    # out, yet Compare still offers it, as run B, against the run before it.
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/?run={experiment[-1]}")
    node(page, "helper").wait_for()
    page.get_by_role("tab", name="Compare").click()
    compare = page.get_by_test_id("run-compare")
    page.wait_for_function("(id) => document.querySelector('[aria-label=\"Run B\"]')?.value === String(id)", arg=experiment[-1], timeout=10000)
    assert compare.get_by_label("Run B").locator("option:checked").text_content().startswith(f"#{experiment[-1]} ")
    assert compare.get_by_label("Run A").locator("option:checked").text_content().startswith(f"#{manual_v1} ")
