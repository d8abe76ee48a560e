"""POST /api/workflows/{id}/test-node/ {"node", "run", "config"?, "graph"?, "key"?}:
one node run alone with its scope in a past run — no run started, nothing
recorded; the model call goes through the real client to the fake server."""
from __future__ import annotations

import pytest

from editor.models import Run, Step
from tests.conftest import wait_for_run

from .builders import document, saved_workflow
from .test_rerun import chain_graph


def post_test_node(client, workflow, body):
    return client.post(f"/api/workflows/{workflow.pk}/test-node/", body, format="json")


@pytest.fixture
def chain_run(worker, fake_llm, personas, client_for):
    workflow = saved_workflow(personas["acme"], personas["alice"], graph=chain_graph(), name="Chain")
    r = client_for(personas["alice"]).post(f"/api/workflows/{workflow.pk}/runs/", {"input": {"topic": "owls"}}, format="json")
    run = wait_for_run(r.data["id"])
    assert run.status == Run.Status.SUCCEEDED, run.error
    fake_llm.requests.clear()
    return workflow, run


def test_a_node_runs_alone_with_the_upstream_outputs_of_the_run(chain_run, fake_llm, personas, client_for):
    workflow, run = chain_run
    draft = run.steps.get(node_id="draft").output
    r = post_test_node(client_for(personas["bob"]), workflow, {"node": "polish", "run": run.pk, "config": {"prompt": "Shorten: {{ nodes.draft.output }}"}})
    assert r.status_code == 200, r.data
    assert r.data["status"] == "succeeded" and r.data["key"] == "1"
    assert r.data["input"]["prompt"] == f"Shorten: {draft}"
    assert r.data["output"] == f"fake reply to: Shorten: {draft}"
    assert r.data["usage"]["tokens_out"] > 0
    # One model call, for the tested node; no run started, no step recorded.
    assert len(fake_llm.requests) == 1
    assert Run.objects.filter(workflow=workflow).count() == 1
    assert Step.objects.filter(run=run).count() == 4


def test_the_draft_graph_is_tested_before_it_is_saved(chain_run, personas, client_for):
    workflow, run = chain_run
    draft = chain_graph()
    draft["nodes"].append({"id": "count", "type": "transform", "config": {"value": "{{ nodes.polish.output | length }}"}})
    r = post_test_node(client_for(personas["alice"]), workflow, {"node": "count", "run": run.pk, "graph": draft})
    assert r.status_code == 200, r.data
    # Never ran in that run: the scope is the run's end, where polish's output exists.
    assert r.data["status"] == "succeeded" and r.data["key"] == ""
    assert r.data["output"] == len(run.steps.get(node_id="polish").output)


def test_a_template_error_is_a_failed_result_naming_node_field_and_name(chain_run, personas, client_for):
    workflow, run = chain_run
    r = post_test_node(client_for(personas["alice"]), workflow, {"node": "polish", "run": run.pk, "config": {"prompt": "{{ nodes.nothing.output }}"}})
    assert r.status_code == 200
    assert r.data["status"] == "failed"
    assert "polish" in r.data["error"] and "prompt" in r.data["error"] and "nothing" in r.data["error"]


def test_a_fanout_item_sees_its_item_and_index(worker, personas, client_for):
    graph = document(
        [{"id": "start", "type": "start"}, {"id": "fan", "type": "fanout", "config": {"items": "{{ ['a', 'b', 'c'] }}"}},
         {"id": "each", "type": "transform", "config": {"value": "{{ index }}:{{ item }}"}}, {"id": "join", "type": "join"},
         {"id": "out", "type": "output", "config": {"value": "{{ nodes.join.output }}"}}],
        [{"source": "start", "target": "fan"}, {"source": "fan", "target": "each"}, {"source": "each", "target": "join"},
         {"source": "join", "target": "out"}],
    )
    workflow = saved_workflow(personas["acme"], personas["alice"], graph=graph)
    client = client_for(personas["alice"])
    run = wait_for_run(client.post(f"/api/workflows/{workflow.pk}/runs/", {"input": {"topic": "x"}}, format="json").data["id"])
    assert run.status == Run.Status.SUCCEEDED, run.error
    r = post_test_node(client, workflow, {"node": "each", "run": run.pk, "key": "fan#1[1]/1", "config": {"value": "{{ item | upper }}#{{ index }}"}})
    assert r.status_code == 200, r.data
    assert r.data["output"] == "B#1"


def test_bad_requests_say_what_is_wrong(chain_run, personas, client_for):
    workflow, run = chain_run
    client = client_for(personas["alice"])
    assert "node" in post_test_node(client, workflow, {"run": run.pk}).data["error"]
    r = post_test_node(client, workflow, {"node": "ghost", "run": run.pk})
    assert r.status_code == 400 and "ghost" in r.data["error"]
    r = post_test_node(client, workflow, {"node": "polish", "run": 999999})
    assert r.status_code == 400 and "999999" in r.data["error"]
    r = post_test_node(client, workflow, {"node": "polish", "run": run.pk, "config": {"prompt": "x", "temperature": "hot"}})
    assert r.status_code == 400 and "temperature" in r.data["error"]
    r = post_test_node(client, workflow, {"node": "polish", "run": run.pk, "key": "nope"})
    assert r.status_code == 400 and "nope" in r.data["error"]
    r = post_test_node(client, workflow, {"node": "start", "run": run.pk})
    assert r.status_code == 400 and "start" in r.data["error"]


def test_a_run_of_another_workflow_is_refused(chain_run, personas, client_for):
    workflow, run = chain_run
    other = saved_workflow(personas["acme"], personas["alice"], graph=chain_graph(), name="Other")
    r = post_test_node(client_for(personas["alice"]), other, {"node": "polish", "run": run.pk})
    assert r.status_code == 400 and f"run {run.pk}" in r.data["error"]


def test_rights_viewer_forbidden_outsider_not_found(chain_run, fake_llm, personas, client_for):
    workflow, run = chain_run
    assert post_test_node(client_for(personas["carol"]), workflow, {"node": "polish", "run": run.pk}).status_code == 403
    assert post_test_node(client_for(personas["mallory"]), workflow, {"node": "polish", "run": run.pk}).status_code == 404
    assert not fake_llm.requests
