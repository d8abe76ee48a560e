"""POST /api/runs/{id}/rerun/ {"from_node"}: a new run of the same version that
reuses the recorded outputs of everything upstream of `from_node` and runs
`from_node` and everything after it again. Upstream model calls are proven
not to happen again by counting requests on the fake model server."""
from __future__ import annotations

import pytest

from editor.models import Run, Step
from tests.conftest import wait_for_run

from .builders import document, minimal_graph, saved_workflow


def chain_graph():
    """start → draft (llm) → polish (llm) → out: two model calls in a row."""
    return document(
        [
            {"id": "start", "type": "start"},
            {"id": "draft", "type": "llm", "config": {"prompt": "Draft a line about {{ input.topic }}"}},
            {"id": "polish", "type": "llm", "config": {"prompt": "Polish: {{ nodes.draft.output }}"}},
            {"id": "out", "type": "output", "config": {"value": "{{ nodes.polish.output }}"}},
        ],
        [{"source": "start", "target": "draft"}, {"source": "draft", "target": "polish"}, {"source": "polish", "target": "out"}],
    )


def rerun(client, run, body):
    return client.post(f"/api/runs/{run.pk}/rerun/", body, format="json")


@pytest.fixture
def finished_chain(worker, fake_llm, personas, client_for):
    workflow = saved_workflow(personas["acme"], personas["alice"], graph=chain_graph(), name="Chain")
    r = client_for(personas["alice"]).post(f"/api/workflows/{workflow.pk}/runs/", {"input": {"topic": "owls"}}, format="json")
    assert r.status_code == 201, r.data
    run = wait_for_run(r.data["id"])
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert len(fake_llm.requests) == 2
    return run


def test_rerun_from_a_step_reuses_upstream_outputs_and_runs_the_rest_again(finished_chain, fake_llm, personas, client_for):
    old = finished_chain
    fake_llm.requests.clear()
    r = rerun(client_for(personas["bob"]), old, {"from_node": "polish"})
    assert r.status_code == 201, r.data
    new = wait_for_run(r.data["id"])
    assert new.status == Run.Status.SUCCEEDED, new.error
    assert new.version_id == old.version_id and new.input == old.input
    # Only `polish` asked the model: `draft`'s output was reused, not recomputed.
    assert len(fake_llm.requests) == 1
    assert "Polish:" in str(fake_llm.requests[0])
    old_steps = {s.node_id: s for s in old.steps.all()}
    new_steps = {s.node_id: s for s in new.steps.all()}
    assert set(new_steps) == {"start", "draft", "polish", "out"}
    assert new_steps["draft"].output == old_steps["draft"].output
    assert new_steps["draft"].started_at == old_steps["draft"].started_at  # the copy, not a new execution
    assert new_steps["polish"].started_at > old_steps["polish"].finished_at  # executed again
    assert all(s.status == Step.Status.SUCCEEDED for s in new_steps.values())


def test_rerun_from_the_first_step_calls_every_model_again(finished_chain, fake_llm, personas, client_for):
    fake_llm.requests.clear()
    r = rerun(client_for(personas["alice"]), finished_chain, {"from_node": "draft"})
    assert r.status_code == 201, r.data
    assert wait_for_run(r.data["id"]).status == Run.Status.SUCCEEDED
    assert len(fake_llm.requests) == 2


def test_rerun_with_new_input_renders_it_downstream(finished_chain, fake_llm, personas, client_for):
    r = rerun(client_for(personas["alice"]), finished_chain, {"from_node": "out", "input": {"topic": "bats"}})
    assert r.status_code == 201, r.data
    new = wait_for_run(r.data["id"])
    assert new.status == Run.Status.SUCCEEDED and new.input == {"topic": "bats"}


def test_rerun_from_an_unknown_node_is_refused_naming_it(finished_chain, personas, client_for):
    r = rerun(client_for(personas["alice"]), finished_chain, {"from_node": "ghost"})
    assert r.status_code == 400
    assert "ghost" in r.data["error"]
    r = rerun(client_for(personas["alice"]), finished_chain, {})
    assert r.status_code == 400 and "from_node" in r.data["error"]


def test_rerun_of_an_unfinished_run_is_a_conflict(personas, client_for):
    workflow = saved_workflow(personas["acme"], personas["alice"], graph=minimal_graph())
    version = workflow.latest_version
    run = Run.objects.create(workflow=workflow, version=version, graph=version.graph, team=workflow.team, input={"topic": "x"}, status=Run.Status.RUNNING)
    r = rerun(client_for(personas["alice"]), run, {"from_node": "out"})
    assert r.status_code == 409
    assert "running" in r.data["error"]


def test_rerun_rights_viewer_forbidden_outsider_not_found(personas, client_for):
    workflow = saved_workflow(personas["acme"], personas["alice"], graph=minimal_graph())
    version = workflow.latest_version
    run = Run.objects.create(workflow=workflow, version=version, graph=version.graph, team=workflow.team, input={"topic": "x"}, status=Run.Status.SUCCEEDED)
    assert rerun(client_for(personas["carol"]), run, {"from_node": "out"}).status_code == 403
    assert rerun(client_for(personas["mallory"]), run, {"from_node": "out"}).status_code == 404
    assert not Run.objects.exclude(pk=run.pk).exists()


def save_version(client, workflow_id, graph, base, message):
    r = client.put(f"/api/workflows/{workflow_id}/", {"graph": graph, "base_version": base, "message": message}, format="json")
    assert r.status_code == 200, r.data
    return r.data["version"]


def with_prompt(graph, node, prompt):
    for n in graph["nodes"]:
        if n["id"] == node:
            n["config"]["prompt"] = prompt
    return graph


def test_rerun_of_an_edited_version_runs_the_new_prompt_and_reuses_the_unchanged_upstream(finished_chain, fake_llm, personas, client_for):
    old = finished_chain
    client = client_for(personas["alice"])
    v2 = save_version(client, old.workflow_id, with_prompt(chain_graph(), "polish", "Shorten: {{ nodes.draft.output }}"), 1, "re-run from polish")
    fake_llm.requests.clear()
    r = rerun(client, old, {"from_node": "polish", "version": v2})
    assert r.status_code == 201, r.data
    assert r.data["version"] == v2
    new = wait_for_run(r.data["id"])
    assert new.status == Run.Status.SUCCEEDED, new.error
    assert len(fake_llm.requests) == 1 and "Shorten:" in str(fake_llm.requests[0])
    shown = client.get(f"/api/runs/{new.pk}/").json()
    assert shown["rerun_of"] == old.pk and shown["from_node"] == "polish" and shown["version"] == v2
    steps = {s["node_id"]: s for s in shown["steps"]}
    assert steps["polish"]["input"]["prompt"].startswith("Shorten:") and steps["polish"]["reused"] is False
    assert steps["draft"]["reused"] is True and steps["draft"]["reused_from"] == "rerun"
    assert steps["draft"]["usage"]["tokens_in"] == 0 and steps["draft"]["usage"]["cost_usd"] == 0
    # The totals count only what this run executed: polish once, not draft again.
    polish = new.steps.get(node_id="polish")
    assert new.tokens == polish.tokens_in + polish.tokens_out > 0
    assert new.tokens < old.tokens


def test_rerun_runs_again_an_upstream_node_whose_config_changed(finished_chain, fake_llm, personas, client_for):
    old = finished_chain
    client = client_for(personas["alice"])
    v2 = save_version(client, old.workflow_id, with_prompt(chain_graph(), "draft", "Draft a haiku about {{ input.topic }}"), 1, "new draft")
    fake_llm.requests.clear()
    r = rerun(client, old, {"from_node": "polish", "version": "latest"})
    assert r.status_code == 201, r.data
    new = wait_for_run(r.data["id"])
    assert new.status == Run.Status.SUCCEEDED, new.error
    assert len(fake_llm.requests) == 2  # draft changed: it is not reused
    assert new.steps.get(node_id="draft").reused == ""
    assert new.steps.get(node_id="start").reused == "rerun"


def test_rerun_of_a_version_that_does_not_exist_is_refused_naming_it(finished_chain, personas, client_for):
    client = client_for(personas["alice"])
    r = rerun(client, finished_chain, {"from_node": "polish", "version": 99})
    assert r.status_code == 400 and "version" in r.data["error"] and "99" in r.data["error"]
    r = rerun(client, finished_chain, {"from_node": "polish", "version": "v2"})
    assert r.status_code == 400 and "version" in r.data["error"]
