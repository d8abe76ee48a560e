"""A person's first five minutes, in a real browser: sign in, open a template,
press Run, watch the text stream in, see the result."""
from __future__ import annotations

import re

import pytest

from editor import services
from editor.workflow_templates import all_templates

from .conftest import real_password, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_sign_in_open_a_template_run_it_and_watch_it_stream(page, live_daphne, worker, personas, settings):
    settings.OPENAI_API_KEY = ""  # the offline demo model answers
    settings.DEMO_TOKEN_DELAY_MS = 40  # slow enough to watch the text grow
    alice = personas["alice"]
    real_password(alice, "alice-password")
    template = next(t for t in all_templates() if t["slug"] == "prompt-chaining")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=template["graph"])

    sign_in(page, live_daphne, "alice", "alice-password")
    page.get_by_role("link", name=workflow.name).click()
    page.wait_for_url(re.compile(rf".*/workflows/{workflow.pk}/.*"))
    page.locator(".react-flow__node").first.wait_for()
    assert page.locator(".react-flow__node").count() == len(template["graph"]["nodes"])
    shot(page, "01-workflow-page")

    page.get_by_role("button", name=re.compile(r"\bRun$")).click()
    status = page.get_by_test_id("run-status")
    status.wait_for()
    output = page.get_by_test_id("step-output")
    output.wait_for(timeout=20000)
    # Tokens arrive over the WebSocket: the panel's text grows while the step runs.
    page.wait_for_function("() => (document.querySelector('[data-testid=step-output]')?.textContent || '').length > 10", timeout=20000)
    first = output.text_content()
    page.wait_for_function(
        "(n) => (document.querySelector('[data-testid=step-output]')?.textContent || '').length > n", arg=len(first), timeout=20000
    )
    shot(page, "02-streaming")
    page.wait_for_function("() => /succeeded/i.test(document.querySelector('[data-testid=run-status]')?.textContent || '')", timeout=60000)
    result = page.get_by_test_id("run-output").text_content()
    assert "[demo]" in result and "article" in result
    shot(page, "03-finished")

    # Reopening the run later shows the same state: nothing lives only in the tab.
    run_id = workflow.runs.get().pk
    page.goto(f"http://{live_daphne}/runs/{run_id}/")
    page.wait_for_function("() => /succeeded/i.test(document.querySelector('[data-testid=run-status]')?.textContent || '')", timeout=20000)
    assert "[demo]" in page.get_by_test_id("run-output").text_content()


def test_another_teams_workflow_page_is_not_found(page, live_daphne, worker, personas):
    mallory = personas["mallory"]
    real_password(mallory, "mallory-password")
    alice = personas["alice"]
    template = all_templates()[0]
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=template["graph"])
    sign_in(page, live_daphne, "mallory", "mallory-password")
    response = page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
    assert response.status == 404


def test_a_person_answers_a_waiting_run_from_the_run_view(page, live_daphne, worker, personas):
    bob = personas["bob"]
    real_password(bob, "bob-password")
    graph = {"format": "orchestrator.workflow/v1", "name": "Approval",
             "nodes": [{"id": "start", "type": "start"},
                       {"id": "review", "type": "human", "name": "Review", "config": {
                           "prompt": "Publish the post?",
                           "form": {"type": "object", "properties": {"headline": {"type": "string", "title": "Headline"}}, "required": ["headline"]}}},
                       {"id": "yes", "type": "output", "config": {"value": "published as {{ nodes.review.output.answer.headline }}"}},
                       {"id": "no", "type": "output", "config": {"value": "held"}}],
             "edges": [{"source": "start", "target": "review"}, {"source": "review", "source_port": "approved", "target": "yes"},
                       {"source": "review", "source_port": "rejected", "target": "no"}, {"source": "review", "source_port": "timeout", "target": "no"}]}
    workflow = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=graph)
    run = services.start_run(workflow=workflow, version=workflow.latest_version, graph=workflow.latest_version.graph,
                             team=personas["acme"], user=personas["alice"], run_input={}, trigger="test")
    sign_in(page, live_daphne, "bob", "bob-password")
    page.goto(f"http://{live_daphne}/runs/{run.pk}/")
    waiting = page.get_by_test_id("run-waiting")
    waiting.wait_for(timeout=20000)
    assert "Waiting for a person" in waiting.text_content() and "an owner or editor" in waiting.text_content()
    shot(page, "04-waiting-for-a-person")
    # Answered in the run view itself: the question, the step's form, Approve.
    form = waiting.get_by_test_id("answer-form")
    assert "Publish the post?" in form.text_content()
    form.get_by_role("button", name="Approve").click()  # the form's required field is empty: refused, named, nothing lost
    form.get_by_role("alert").wait_for()
    assert "headline" in form.get_by_role("alert").text_content()
    form.get_by_label("Comment").fill("good to go")
    form.get_by_label("Headline").fill("Owls at night")
    form.get_by_role("button", name="Approve").click()
    page.wait_for_function("() => /succeeded/i.test(document.querySelector('[data-testid=run-status]')?.textContent || '')", timeout=20000)
    assert "published as Owls at night" in page.get_by_test_id("run-output").text_content()
    answer = run.steps.get(node_id="review").answer
    assert answer["by"] == "bob" and answer["comment"] == "good to go" and answer["decision"] == "approve"


def test_the_run_history_pages_back_to_the_oldest_run(page, live_daphne, worker, personas):
    from django.utils import timezone

    from editor.models import Run

    alice = personas["alice"]
    real_password(alice, "alice-password")
    template = next(t for t in all_templates() if t["slug"] == "prompt-chaining")
    workflow = services.create_workflow(team=alice.personal_team, user=alice, graph=template["graph"])
    version, now = workflow.latest_version, timezone.now()
    Run.objects.bulk_create([Run(workflow=workflow, version=version, graph=version.graph, team=workflow.team, input={},
                                 status=Run.Status.SUCCEEDED, started_at=now, finished_at=now) for _ in range(105)])
    oldest = workflow.runs.order_by("pk").first().pk

    sign_in(page, live_daphne, "alice", "alice-password")
    page.goto(f"http://{live_daphne}/workflows/{workflow.pk}/")
    items = page.get_by_test_id("run-history").locator("li")
    items.nth(99).wait_for()
    assert items.count() == 100
    page.get_by_role("button", name="Older runs").click()
    items.nth(104).wait_for()
    assert items.count() == 105 and f"#{oldest}" in items.nth(104).text_content()
    assert page.get_by_role("button", name="Older runs").count() == 0  # nothing older is left


def test_a_parent_parked_on_its_sub_workflow_says_so_and_finishes_when_the_child_does(page, live_daphne, worker, personas):
    """The child asks a person; its parent is parked meanwhile (no worker held)
    and its run view says what it waits for — not "a person". The child's
    answer ends the child, which wakes the parent."""
    bob = personas["bob"]
    real_password(bob, "bob-password")
    child_graph = {"format": "orchestrator.workflow/v1", "name": "Sign-off",
                   "nodes": [{"id": "start", "type": "start"},
                             {"id": "ok", "type": "human", "config": {"prompt": "Sign off?"}},
                             {"id": "out", "type": "output", "config": {"value": "signed"}}],
                   "edges": [{"source": "start", "target": "ok"}, {"source": "ok", "source_port": "approved", "target": "out"}]}
    child = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=child_graph)
    parent_graph = {"format": "orchestrator.workflow/v1", "name": "Release",
                    "nodes": [{"id": "start", "type": "start"},
                              {"id": "sign", "type": "subworkflow", "name": "Sign-off", "config": {"workflow": child.pk}},
                              {"id": "out", "type": "output", "config": {"value": "released, {{ nodes.sign.output }}"}}],
                    "edges": [{"source": "start", "target": "sign"}, {"source": "sign", "target": "out"}]}
    parent = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=parent_graph)
    run = services.start_run(workflow=parent, version=parent.latest_version, graph=parent.latest_version.graph,
                             team=personas["acme"], user=personas["alice"], run_input={}, trigger="test")
    sign_in(page, live_daphne, "bob", "bob-password")
    page.goto(f"http://{live_daphne}/runs/{run.pk}/")
    waiting = page.get_by_test_id("run-waiting")
    waiting.wait_for(timeout=20000)
    assert "Waiting for its sub-workflow run" in waiting.text_content()
    assert "person" not in waiting.text_content()
    shot(page, "05-waiting-for-a-sub-workflow")
    from editor.models import Run
    from tests.conftest import wait_for_run

    kid = Run.objects.get(parent_run=run)
    assert Run.objects.get(pk=run.pk).owner == ""  # parked: no worker holds it
    services.answer_human_step(kid, user=bob, node="ok", key=None, decision="approve")
    assert wait_for_run(run.pk).output == "released, signed"
    page.wait_for_function("() => /succeeded/i.test(document.querySelector('[data-testid=run-status]')?.textContent || '')", timeout=20000)
    assert "released, signed" in page.get_by_test_id("run-output").text_content()
