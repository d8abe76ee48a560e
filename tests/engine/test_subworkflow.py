"""Sub-workflows: a child run of another workflow of the team, nested under
the parent step, with the parent's remaining budgets; cycles refused."""
from __future__ import annotations

from editor import services
from editor.models import Run


def child_graph(**settings):
    return {"format": "orchestrator.workflow/v1", "name": "shout",
            "inputs": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
            "settings": settings or {"max_steps": 50},
            "nodes": [{"id": "start", "type": "start"},
                      {"id": "loud", "type": "transform", "config": {"value": "{{ input.text | upper }}!"}},
                      {"id": "out", "type": "output", "config": {"value": "{{ nodes.loud.output }}"}}],
            "edges": [{"source": "start", "target": "loud"}, {"source": "loud", "target": "out"}]}


def parent_graph(child_id: int, inputs=None, **settings):
    return {"format": "orchestrator.workflow/v1", "name": "caller", "settings": settings or {"max_steps": 50},
            "nodes": [{"id": "start", "type": "start"},
                      {"id": "call", "type": "subworkflow", "config": {"workflow": child_id, "inputs": inputs or {"text": "{{ input.word }}"}}},
                      {"id": "out", "type": "output", "config": {"value": "got {{ nodes.call.output }}"}}],
            "edges": [{"source": "start", "target": "call"}, {"source": "call", "target": "out"}]}


def test_a_subworkflow_runs_as_a_nested_child_run(run_graph, personas, client_for):
    child = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=child_graph())
    run = run_graph(parent_graph(child.pk), {"word": "hello"})
    assert run.status == "succeeded", run.error
    assert run.output == "got HELLO!"
    kid = Run.objects.get(parent_run=run)
    assert (kid.workflow_id, kid.parent_node, kid.depth, kid.trigger) == (child.pk, "call", 1, "subworkflow")
    steps = client_for(personas["bob"]).get(f"/api/runs/{run.pk}/").json()["steps"]
    call = next(s for s in steps if s["node_id"] == "call")
    assert call["child_run"]["id"] == kid.pk
    assert [s["node_id"] for s in call["child_run"]["steps"]] == ["start", "loud", "out"]


def test_the_child_inherits_the_parents_remaining_budget(run_graph, personas):
    child = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=child_graph(max_steps=500))
    run = run_graph(parent_graph(child.pk, max_steps=3), {"word": "x"})
    kid = Run.objects.get(parent_run=run)
    assert kid.graph["settings"]["max_steps"] == 2  # the parent had used one step (start)
    assert kid.status == "failed" and kid.error["reason"] == "max_steps"
    assert run.status == "failed" and "sub-workflow run" in run.error["message"]


def test_bad_child_input_fails_the_step_naming_the_field(run_graph, personas):
    child = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=child_graph())
    run = run_graph(parent_graph(child.pk, inputs={"other": 1}), {"word": "x"})
    assert run.status == "failed"
    assert "input.text: required input is missing" in run.steps.get(node_id="call").error


def test_another_teams_workflow_cannot_be_called(personas, client_for, db):
    theirs = services.create_workflow(team=personas["mallory"].personal_team, user=personas["mallory"], graph=child_graph())
    response = client_for(personas["alice"]).post("/api/workflows/", {"graph": parent_graph(theirs.pk), "team": personas["acme"].pk}, format="json")
    assert response.status_code == 400
    assert f"workflow {theirs.pk} is not a workflow of this team" in response.json()["error"]


def test_a_cycle_of_subworkflows_is_refused_at_save(personas, client_for, db):
    client = client_for(personas["alice"])
    a = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=child_graph())
    b = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=parent_graph(a.pk, inputs={"text": "b"}))
    response = client.put(f"/api/workflows/{a.pk}/", {"graph": parent_graph(b.pk, inputs={"text": "a"}), "base_version": 1}, format="json")
    assert response.status_code == 400, response.content
    assert "calls this workflow again" in response.json()["error"]
    assert a.latest_version.number == 1  # nothing was saved


def test_parents_waiting_for_children_hold_no_worker_thread(run_graph, personas, worker):
    """The test worker has N threads; N + 2 parents each start a child: a parent
    that held its thread while its child ran would leave the children queued
    behind parents that can never finish (N parents held them all). Parked, every parent and every child finishes."""
    from tests.conftest import wait_for_run

    threads = worker.concurrency  # the session worker's thread pool
    assert threads >= 2
    child = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=child_graph())
    parents = [run_graph(parent_graph(child.pk), {"word": f"w{i}"}, wait=False) for i in range(threads + 2)]
    finished = [wait_for_run(p.pk, timeout=60) for p in parents]
    assert [r.status for r in finished] == ["succeeded"] * len(parents), [(r.status, r.error) for r in finished]
    assert sorted(r.output for r in finished) == sorted(f"got W{i}!" for i in range(threads + 2))
    assert Run.objects.filter(parent_run__in=[p.pk for p in parents], status="succeeded").count() == len(parents)


def _parked_parent_with_child(personas, child_status: str):
    """A parent parked on its sub-workflow step (as the runner leaves it) and its child."""
    from django.utils import timezone

    from editor.models import Step

    child_wf = services.create_workflow(team=personas["acme"], user=personas["alice"], graph=child_graph())
    parent = Run.objects.create(graph=parent_graph(child_wf.pk), team=personas["acme"], input={"word": "x"}, status="waiting",
                                started_at=timezone.now())
    Step.objects.create(run=parent, node_id="call", key="1", node_type="subworkflow", status="running", seq=0)
    child = Run.objects.create(graph=child_graph(), team=personas["acme"], input={"text": "x"}, parent_run=parent, parent_node="call",
                               parent_key="1", depth=1, status=child_status, trigger="subworkflow")
    return parent, child


def test_the_sweeper_wakes_a_parent_whose_childs_wake_up_was_lost(personas, db, monkeypatch):
    from engine import tasks

    sent = []
    monkeypatch.setattr(tasks.advance_run, "delay", lambda run_id: sent.append(run_id))
    from datetime import timedelta

    from django.utils import timezone

    parent, child = _parked_parent_with_child(personas, "running")
    Run.objects.filter(pk=child.pk).update(owner="worker/1", lease_until=timezone.now() + timedelta(seconds=60))
    assert tasks.sweep_orphaned_runs() == []  # the child still runs (a live owner holds it): the parent sleeps on
    Run.objects.filter(pk=child.pk).update(status="succeeded", output="X!")
    assert tasks.sweep_orphaned_runs() == [parent.pk]
    assert sent == [parent.pk]


def test_cancelling_a_parked_parent_cancels_its_child(personas, db, monkeypatch):
    from editor.models import Step
    from engine import tasks

    monkeypatch.setattr(tasks.advance_run, "delay", lambda run_id: None)
    parent, child = _parked_parent_with_child(personas, "running")
    services.cancel_run(parent, personas["alice"])
    assert Run.objects.get(pk=parent.pk).status == "cancelled"
    assert Run.objects.get(pk=child.pk).cancel_requested  # a running child is asked to stop (its owner stops it)
    assert Step.objects.get(run=parent, node_id="call").status == "cancelled"
