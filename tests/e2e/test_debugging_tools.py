"""Debugging tools in a real browser: pin a step's output, test one node alone
against a past run, an agent's turns as cards, text outputs as Markdown, loop
chips that show only the iterations that ran, and a rejected approval that
says so in the run's status."""
from __future__ import annotations

import json
import time

import pytest

from editor import services
from editor.models import Run, Workflow
from tests.conftest import wait_for_run

from .conftest import real_password, shot, sign_in
from .test_debugging_loop import chain
from .test_editor import node, open_node, type_in_editor

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def finished_run(user, graph, run_input=None):
    workflow = services.create_workflow(team=user.personal_team, user=user, graph=graph)
    run = services.start_run(workflow=workflow, version=workflow.latest_version, graph=workflow.latest_version.graph,
                             team=user.personal_team, user=user, run_input=run_input or {}, trigger="test")
    return workflow, wait_for_run(run.pk)


def open_run(page, server, workflow, run) -> None:
    page.goto(f"http://{server}/workflows/{workflow.pk}/?run={run.pk}")
    page.wait_for_function("(s) => (document.querySelector('[data-testid=run-status]')?.textContent || '').toLowerCase().includes(s)",
                           arg=run.status, timeout=20000)


def inspect(page, node_id: str) -> None:
    """Click a node on the canvas and look at its step in the Run tab."""
    node(page, node_id).locator(".gnode-name").click()
    page.get_by_role("tab", name="Run").last.click()
    page.get_by_test_id("step-inspector").wait_for()


@pytest.fixture
def alice(personas, settings):
    settings.OPENAI_API_KEY = ""  # the offline demo model answers
    user = personas["alice"]
    real_password(user, "alice-password")
    return user


def test_test_this_node_with_an_edited_prompt_then_pin_and_unpin(page, live_daphne, worker, alice):
    workflow, run = finished_run(alice, chain(), {"topic": "owls"})
    assert run.status == Run.Status.SUCCEEDED, run.error
    draft_output = run.steps.get(node_id="draft").output
    sign_in(page, live_daphne, "alice", "alice-password")
    open_run(page, live_daphne, workflow, run)

    # Edit the prompt on the canvas, then test the node alone: the draft's prompt, the run's upstream output.
    open_node(page, "polish")
    type_in_editor(page, 0, "Shorten: {{ nodes.draft.output }}")
    inspect(page, "polish")
    page.get_by_test_id("test-node").click()
    result = page.get_by_test_id("test-result")
    result.wait_for(timeout=20000)
    assert result.get_by_test_id("test-status").text_content() == "succeeded"
    result.locator("summary").click()
    assert f"Shorten: {draft_output}" in result.get_by_test_id("test-input").text_content()
    assert Run.objects.filter(workflow=workflow).count() == 1  # no run was started
    result.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    shot(page, "20-test-this-node")
    # The tested result can be pinned as it is (to work on what follows), and unpinned.
    result.get_by_test_id("pin-test-result").click()
    node(page, "polish").get_by_test_id("node-pinned").wait_for()
    page.get_by_test_id("unpin").click()
    node(page, "polish").get_by_test_id("node-pinned").wait_for(state="detached")

    # Pin the draft step's output: a badge on the node; saved with the workflow; unpin removes it.
    inspect(page, "draft")
    page.get_by_test_id("pin-output").click()
    node(page, "draft").get_by_test_id("node-pinned").wait_for()
    assert node(page, "polish").get_by_test_id("node-pinned").count() == 0
    shot(page, "21-pinned-node")
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('[data-testid=unsaved]')", timeout=10000)
    saved = Workflow.objects.get(pk=workflow.pk).latest_version.graph
    assert next(n for n in saved["nodes"] if n["id"] == "draft")["pin"] == {"output": draft_output, "ports": ["out"]}

    # A run of the saved version does not execute the pinned node.
    pinned_run = services.start_run(workflow=workflow, version=Workflow.objects.get(pk=workflow.pk).latest_version, graph=saved,
                                    team=alice.personal_team, user=alice, run_input={"topic": "bats"}, trigger="test")
    pinned_run = wait_for_run(pinned_run.pk)
    assert pinned_run.steps.get(node_id="draft").reused == "pin"
    assert pinned_run.steps.get(node_id="draft").output == draft_output

    inspect(page, "draft")
    page.get_by_test_id("unpin").click()
    node(page, "draft").get_by_test_id("node-pinned").wait_for(state="detached")


def agent_graph():
    return {"format": "orchestrator.workflow/v1", "name": "Agent",
            "inputs": {"type": "object", "properties": {"task": {"type": "string"}}},
            "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
                      {"id": "agent", "type": "agent", "position": {"x": 0, "y": 150},
                       "config": {"goal": "{{ input.task }}", "tools": ["calculator"], "max_iterations": 4}},
                      {"id": "out", "type": "output", "position": {"x": 0, "y": 300}, "config": {"value": "{{ nodes.agent.output.answer }}"}}],
            "edges": [{"source": "start", "target": "agent"}, {"source": "agent", "source_port": "done", "target": "out"}]}


def test_an_agent_step_reads_as_cards_and_a_text_output_as_markdown(page, live_daphne, worker, alice):
    workflow, run = finished_run(alice, agent_graph(), {"task": "What is 30 - 12?"})
    assert run.status == Run.Status.SUCCEEDED, run.error
    sign_in(page, live_daphne, "alice", "alice-password")
    open_run(page, live_daphne, workflow, run)
    inspect(page, "agent")
    cards = page.get_by_test_id("agent-cards")
    cards.wait_for(timeout=10000)
    call = cards.get_by_test_id("agent-card-call").first
    assert "calculator" in call.text_content()
    call_args = run.steps.get(node_id="agent").output["trace"][0]["arguments"]
    assert json.dumps(json.loads(call_args), indent=2) == call.get_by_test_id("agent-args").text_content()  # the arguments, readable
    assert cards.get_by_test_id("agent-card-observation").count() >= 1
    assert cards.get_by_test_id("agent-card-answer").count() == 1
    cards.scroll_into_view_if_needed()
    shot(page, "22-agent-cards")
    page.get_by_test_id("agent-raw-toggle").click()
    assert '"trace"' in page.get_by_test_id("step-output").text_content()


def test_text_outputs_render_markdown_and_loop_chips_show_only_iterations_that_ran(page, live_daphne, worker, alice):
    graph = {"format": "orchestrator.workflow/v1", "name": "Loop",
             "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
                       {"id": "again", "type": "loop", "position": {"x": 0, "y": 120}, "config": {"max_iterations": 2}},
                       {"id": "say", "type": "transform", "position": {"x": 0, "y": 240},
                        "config": {"value": "**Pass {{ loop.iteration }}**\n\n- one\n- <script>window.pwned = 1</script>two"}},
                       {"id": "out", "type": "output", "position": {"x": 250, "y": 240}, "config": {"value": "{{ nodes.say.output }}"}}],
             "edges": [{"source": "start", "target": "again"}, {"source": "again", "source_port": "next", "target": "say"},
                       {"source": "say", "target": "again"}, {"source": "again", "source_port": "done", "target": "out"}]}
    workflow, run = finished_run(alice, graph)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.steps.filter(node_id="say", status="skipped").exists()  # the loop's last pass: not an iteration
    sign_in(page, live_daphne, "alice", "alice-password")
    open_run(page, live_daphne, workflow, run)
    inspect(page, "say")
    chips = page.locator(".activations .activation")
    chips.first.wait_for(timeout=10000)
    assert [c.text_content() for c in chips.all()] == ["#1", "#2"]
    output = page.get_by_test_id("step-output")
    assert output.locator("strong").text_content() == "Pass 2"
    assert output.locator("li").count() == 2 and output.locator("script").count() == 0
    time.sleep(0.2)
    assert page.evaluate("() => window.pwned") is None
    output.get_by_test_id("markdown-toggle").click()
    assert "**Pass 2**" in output.get_by_test_id("markdown-raw").text_content()
    shot(page, "23-markdown-output-loop-chips")


def test_a_rejected_approval_shows_as_a_failed_run(page, live_daphne, worker, alice):
    graph = {"format": "orchestrator.workflow/v1", "name": "Approval",
             "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
                       {"id": "review", "type": "human", "name": "Review", "position": {"x": 0, "y": 120}, "config": {"prompt": "Ship it?"}},
                       {"id": "shipped", "type": "output", "position": {"x": -150, "y": 240}, "config": {"value": "shipped"}},
                       {"id": "refused", "type": "output", "name": "Refused", "position": {"x": 150, "y": 240},
                        "config": {"outcome": "failed", "value": {"error": "{{ nodes.review.output.by }} refused it"}}}],
             "edges": [{"source": "start", "target": "review"}, {"source": "review", "source_port": "approved", "target": "shipped"},
                       {"source": "review", "source_port": "rejected", "target": "refused"}]}
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=graph)
    run = services.start_run(workflow=workflow, version=workflow.latest_version, graph=graph, team=alice.personal_team, user=alice,
                             run_input={}, trigger="test")
    deadline = time.monotonic() + 20
    while Run.objects.get(pk=run.pk).status != Run.Status.WAITING and time.monotonic() < deadline:
        time.sleep(0.1)
    services.answer_human_step(Run.objects.get(pk=run.pk), user=alice, node="review", key=None, decision="reject")
    run = wait_for_run(run.pk)
    assert run.status == Run.Status.FAILED and run.error["reason"] == "outcome"
    sign_in(page, live_daphne, "alice", "alice-password")
    open_run(page, live_daphne, workflow, run)
    assert page.get_by_test_id("run-status").text_content().strip().lower() == "failed"
    message = page.get_by_test_id("run-error-message").text_content()
    assert "Refused" in message and "alice refused it" in message
    assert "alice refused it" in page.get_by_test_id("run-output").text_content()  # the output is kept
    shot(page, "24-rejected-approval-failed")


def test_agent_cards_stream_in_while_the_agent_works(page, live_daphne, worker, alice, settings):
    settings.DEMO_TOKEN_DELAY_MS = 120  # slow enough to look at the agent mid-way
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=agent_graph())
    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
    page.get_by_test_id("node-agent").wait_for(timeout=10000)
    run = services.start_run(workflow=workflow, version=workflow.latest_version, graph=workflow.latest_version.graph,
                             team=alice.personal_team, user=alice, run_input={"task": "What is 30 - 12?"}, trigger="test")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/?run={run.pk}")
    inspect(page, "agent")
    page.get_by_test_id("agent-card-observation").first.wait_for(timeout=20000)
    # The call and its observation are cards already, while the agent is still answering.
    assert Run.objects.get(pk=run.pk).status == Run.Status.RUNNING
    assert "calculator" in page.get_by_test_id("agent-card-call").first.text_content()
    shot(page, "25-agent-cards-streaming")
    run = wait_for_run(run.pk)
    assert run.status == Run.Status.SUCCEEDED, run.error
    page.get_by_test_id("agent-card-answer").wait_for(timeout=10000)


def test_a_fanout_that_collects_failures_shows_them_and_labels_items_as_index(page, live_daphne, worker, alice):
    graph = {"format": "orchestrator.workflow/v1", "name": "Collect",
             "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
                       {"id": "fan", "type": "fanout", "position": {"x": 0, "y": 120},
                        "config": {"items": "{{ [{'name': 'a'}, 5, {'name': 'c'}] }}", "on_item_error": "collect"}},
                       {"id": "shout", "type": "transform", "position": {"x": 0, "y": 240}, "config": {"value": "#{{ index }} {{ item.name | upper }}"}},
                       {"id": "join", "type": "join", "position": {"x": 0, "y": 360}},
                       {"id": "out", "type": "output", "position": {"x": 0, "y": 480}, "config": {"value": "{{ nodes.join.output }}"}}],
             "edges": [{"source": "start", "target": "fan"}, {"source": "fan", "target": "shout"}, {"source": "shout", "target": "join"},
                       {"source": "join", "target": "out"}]}
    workflow, run = finished_run(alice, graph)
    assert run.status == Run.Status.SUCCEEDED, run.error
    sign_in(page, live_daphne, "alice", "alice-password")
    open_run(page, live_daphne, workflow, run)
    assert node(page, "fan").get_by_test_id("node-item-errors").text_content() == "collects item errors"
    inspect(page, "shout")
    chips = page.locator(".activations .activation")
    chips.first.wait_for(timeout=10000)
    assert [c.text_content() for c in chips.all()] == ["item 0", "item 1", "item 2"]
    assert "status-failed" in chips.nth(1).get_attribute("class")
    chips.nth(2).click()
    assert page.get_by_test_id("step-output").get_attribute("data-raw") == "#2 C"  # the label agrees with {{ index }}
    inspect(page, "join")
    joined = page.get_by_test_id("step-output").text_content()
    assert '"item": 5' in joined and '"error"' in joined
    shot(page, "26-fanout-collect")
    # The setting is on the fan-out's form.
    open_node(page, "fan")
    field = page.get_by_label("On item error")
    assert field.locator("option:checked").text_content() == "collect"
