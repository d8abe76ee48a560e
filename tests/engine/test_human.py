"""The human step: the run parks without a worker, a person answers through
the API, the run resumes; a timeout goes out through its own port."""
from __future__ import annotations

import time

from editor.models import Run
from tests.conftest import wait_for_run

GRAPH = {
    "format": "orchestrator.workflow/v1",
    "name": "approval",
    "settings": {"max_steps": 50, "timeout_s": 5},
    "nodes": [
        {"id": "start", "type": "start"},
        {"id": "draft", "type": "transform", "config": {"value": "Draft about {{ input.topic }}"}},
        {"id": "review", "type": "human", "config": {"prompt": "Approve this? {{ nodes.draft.output }}",
                                                     "form": {"type": "object", "properties": {"note": {"type": "string"}}, "required": ["note"]}}},
        {"id": "ship", "type": "output", "config": {"value": {"shipped": "{{ nodes.draft.output }}", "note": "{{ nodes.review.output.answer.note }}"}}},
        {"id": "drop", "type": "output", "config": {"value": {"dropped": "{{ nodes.review.output.decision }}"}}},
    ],
    "edges": [
        {"source": "start", "target": "draft"}, {"source": "draft", "target": "review"},
        {"source": "review", "source_port": "approved", "target": "ship"},
        {"source": "review", "source_port": "rejected", "target": "drop"},
        {"source": "review", "source_port": "timeout", "target": "drop"},
    ],
}


def wait_for_status(run_id: int, status: str, timeout: float = 10) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_id)
        if run.status == status:
            return run
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} is {Run.objects.get(pk=run_id).status}, not {status}")


def answer(client, run, **body):
    return client.post(f"/api/runs/{run.pk}/answer/", body, format="json")


def test_a_run_waits_for_a_person_then_resumes_on_approval(run_graph, personas, client_for):
    run = run_graph(GRAPH, {"topic": "tides"}, wait=False)
    run = wait_for_status(run.pk, "waiting")
    step = run.steps.get(node_id="review")
    assert step.status == "waiting" and step.input["prompt"] == "Approve this? Draft about tides"
    time.sleep(6)  # longer than the run's timeout_s: waiting for people does not count
    # A viewer may not answer; a form answer missing a field is refused naming it.
    assert answer(client_for(personas["carol"]), run, node="review", decision="approve", answer={"note": "ok"}).status_code == 403
    refused = answer(client_for(personas["bob"]), run, node="review", decision="approve", answer={})
    assert refused.status_code == 400 and "note" in refused.json()["error"]
    accepted = answer(client_for(personas["bob"]), run, node="review", decision="approve", answer={"note": "ship it"}, comment="lgtm")
    assert accepted.status_code == 202, accepted.content
    run = wait_for_run(run.pk)
    assert run.status == "succeeded", run.error
    assert run.output == {"shipped": "Draft about tides", "note": "ship it"}
    assert run.parked_s >= 5
    again = answer(client_for(personas["bob"]), run, node="review", decision="reject")
    assert again.status_code == 409


def test_a_rejection_takes_the_rejected_branch(run_graph, personas, client_for):
    run = run_graph(GRAPH, {"topic": "x"}, wait=False)
    wait_for_status(run.pk, "waiting")
    assert answer(client_for(personas["alice"]), run, node="review", decision="reject").status_code == 202
    run = wait_for_run(run.pk)
    assert run.output == {"dropped": "rejected"}
    assert run.steps.get(node_id="ship").status == "skipped"


def test_only_named_assignees_may_answer(run_graph, personas, client_for):
    graph = {**GRAPH, "nodes": [dict(n, config={**n["config"], "assignees": ["bob"], "form": None}) if n["id"] == "review" else n for n in GRAPH["nodes"]]}
    graph["nodes"] = [dict(n, config={k: v for k, v in n["config"].items() if v is not None}) if n["id"] == "review" else n for n in graph["nodes"]]
    graph["nodes"] = [dict(n, config={**n["config"], "prompt": "ok?"}) if n["id"] == "review" else n for n in graph["nodes"]]
    graph["nodes"] = [n if n["id"] != "ship" else dict(n, config={"value": "shipped"}) for n in graph["nodes"]]
    run = run_graph(graph, {"topic": "x"}, wait=False)
    wait_for_status(run.pk, "waiting")
    refused = answer(client_for(personas["alice"]), run, node="review", decision="approve")
    assert refused.status_code == 403 and "only bob may answer" in refused.json()["error"]
    assert answer(client_for(personas["mallory"]), run, node="review", decision="approve").status_code == 404
    assert answer(client_for(personas["bob"]), run, node="review", decision="approve").status_code == 202
    assert wait_for_run(run.pk).output == "shipped"


def test_an_unanswered_step_times_out_through_its_port(run_graph, personas):
    graph = {**GRAPH, "nodes": [dict(n, config={"prompt": "ok?", "timeout_s": 0.5}) if n["id"] == "review" else n for n in GRAPH["nodes"]]}
    run = run_graph(graph, {"topic": "x"}, wait=False)
    wait_for_status(run.pk, "waiting")
    run = wait_for_run(run.pk, timeout=15)
    assert run.status == "succeeded" and run.output == {"dropped": "timeout"}


def test_a_waiting_run_can_be_cancelled(run_graph, personas, client_for):
    run = run_graph(GRAPH, {"topic": "x"}, wait=False)
    wait_for_status(run.pk, "waiting")
    response = client_for(personas["alice"]).post(f"/api/runs/{run.pk}/cancel/")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert Run.objects.get(pk=run.pk).steps.get(node_id="review").status == "cancelled"


def test_the_answer_page_shows_the_question_and_takes_the_answer(run_graph, personas, client):
    run = run_graph(GRAPH, {"topic": "tides"}, wait=False)
    run = wait_for_status(run.pk, "waiting")
    client.force_login(personas["bob"])
    listing = client.get("/").content.decode()
    assert f"/runs/{run.pk}/answer/" in listing and "waiting for an editor" in listing
    page = client.get(f"/runs/{run.pk}/answer/").content.decode()
    assert "Approve this? Draft about tides" in page and 'name="field_note"' in page
    step = run.steps.get(node_id="review")
    response = client.post(f"/runs/{run.pk}/answer/", {"step": step.pk, "decision": "approve", "field_note": "from the page"})
    assert response.status_code == 302
    assert wait_for_run(run.pk).output["note"] == "from the page"
    client.force_login(personas["mallory"])
    assert client.get(f"/runs/{run.pk}/answer/").status_code == 404


def test_an_answer_that_lands_while_the_run_is_still_parking_is_not_lost(run_graph, personas, client_for, monkeypatch):
    """The run shows `waiting` a moment before its worker lets go of it. An
    answer in that moment sends the run to a worker that cannot take it; the
    parking worker must notice and send the run again when it lets go."""
    from engine import redis_client
    from engine.runner import Lease, RunExecutor

    park = RunExecutor._park

    def park_then_hold_on(self):
        result = park(self)
        # Hold the run until the answer's request has come and gone unserved.
        wake = Lease(self.run_id).wake_key
        deadline = time.monotonic() + 10
        while not redis_client.client().exists(wake) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        return result

    monkeypatch.setattr(RunExecutor, "_park", park_then_hold_on)
    run = run_graph(GRAPH, {"topic": "race"}, wait=False)
    wait_for_status(run.pk, "waiting")
    # Parking lets go of the run in the same write that shows it waiting: the
    # answer is taken by a worker at once, while the parking one still finishes up.
    assert not Lease.held(run.pk)
    assert answer(client_for(personas["bob"]), run, node="review", decision="approve", answer={"note": "quick"}).status_code == 202
    run = wait_for_run(run.pk, timeout=15)
    assert run.status == "succeeded", run.error
    assert run.output == {"shipped": "Draft about race", "note": "quick"}


def test_a_rejection_that_nothing_handles_fails_the_run_saying_who_rejected(run_graph, personas, client_for):
    graph = {**GRAPH, "edges": [e for e in GRAPH["edges"] if e.get("source_port") not in ("rejected", "timeout")]}
    graph["nodes"] = [n for n in GRAPH["nodes"] if n["id"] != "drop"]
    run = run_graph(graph, {"topic": "x"}, wait=False)
    wait_for_status(run.pk, "waiting")
    assert answer(client_for(personas["bob"]), run, node="review", decision="reject", comment="too long").status_code == 202
    run = wait_for_run(run.pk)
    # Not a green "succeeded" with no output: failed, at the step, with who and why.
    assert run.status == "failed"
    assert run.error["node"] == "review" and run.error["reason"] == "unhandled_ending"
    assert "rejected by bob (too long)" in run.error["message"]
    assert run.steps.get(node_id="review").status == "succeeded"
