"""`fanout.on_item_error`: what one failing item does to the others — with a
real worker and the real openai client against the fake server, and the
scheduler's replay of a tolerated failure with plain data."""
from __future__ import annotations

import pytest

from engine.graph import InvalidWorkflow, load
from engine.scheduler import Scheduler
from tests.fake_openai import Reply

from .test_runner import llm_node, out, wf


def fanout_graph(policy: str | None, items: str = "{{ [{'name': 'a'}, 5, {'name': 'c'}] }}") -> dict:
    """start → fan → shout (fails for an item without a name) → tag → join → out."""
    config = {"items": items}
    if policy is not None:
        config["on_item_error"] = policy
    return wf(
        [{"id": "fan", "type": "fanout", "config": config},
         {"id": "shout", "type": "transform", "config": {"value": "{{ item.name | upper }}"}},
         {"id": "tag", "type": "transform", "config": {"value": "#{{ index }} {{ nodes.shout.output }}"}},
         {"id": "join", "type": "join"}, out(value="{{ nodes.join.output }}")],
        [{"source": "start", "target": "fan"}, {"source": "fan", "target": "shout"}, {"source": "shout", "target": "tag"},
         {"source": "tag", "target": "join"}, {"source": "join", "target": "out"}],
    )


def test_by_default_one_failing_item_fails_the_run(run_graph):
    run = run_graph(fanout_graph(None))
    assert run.status == "failed"
    assert run.error["node"] == "shout" and "name" in run.error["message"]


def test_skip_leaves_the_failed_item_out_of_the_join(run_graph):
    run = run_graph(fanout_graph("skip"))
    assert run.status == "succeeded", run.error
    assert run.output == ["#0 A", "#2 C"]
    failed = run.steps.get(node_id="shout", status="failed")
    assert failed.key == "fan#1[1]/1" and "name" in failed.error
    # What follows the failed step in its item did not run.
    assert run.steps.get(node_id="tag", key="fan#1[1]/1").status == "skipped"


def test_collect_puts_the_error_and_the_item_in_the_failed_items_place(run_graph):
    run = run_graph(fanout_graph("collect"))
    assert run.status == "succeeded", run.error
    first, middle, last = run.output
    assert (first, last) == ("#0 A", "#2 C")
    assert middle["item"] == 5 and "shout" in middle["error"] and "name" in middle["error"]


def test_collect_tolerates_a_model_call_that_fails_after_its_retries(run_graph, fake_llm):
    fake_llm.responder = lambda body: Reply(status=401) if "item 1" in body["messages"][-1]["content"] else None
    graph = wf(
        [{"id": "fan", "type": "fanout", "config": {"items": "{{ [0, 1, 2] }}", "on_item_error": "collect"}},
         llm_node("work", prompt="item {{ item }}"), {"id": "join", "type": "join"}, out(value="{{ nodes.join.output }}")],
        [{"source": "start", "target": "fan"}, {"source": "fan", "target": "work"}, {"source": "work", "target": "join"},
         {"source": "join", "target": "out"}],
    )
    run = run_graph(graph)
    assert run.status == "succeeded", run.error
    assert run.output[0] == "fake reply to: item 0" and run.output[2] == "fake reply to: item 2"
    assert run.output[1]["item"] == 1 and "401" in run.output[1]["error"]


def test_an_unknown_policy_is_refused_at_validation():
    with pytest.raises(InvalidWorkflow) as caught:
        load(fanout_graph("ignore"))
    assert "on_item_error" in str(caught.value) and "fan" in str(caught.value)


def test_replay_of_a_tolerated_failure_reaches_the_same_join():
    """A run resumed on another worker after an item failed sees the same state."""
    graph = load(fanout_graph("collect", items="{{ [1, 2] }}"))
    fan_out = [1, 2]
    steps = [
        {"node_id": "start", "key": "1", "output": None, "ports": ["out"]},
        {"node_id": "fan", "key": "1", "output": fan_out, "ports": ["out"]},
        {"node_id": "shout", "key": "fan#1[0]/1", "failed": True, "error": "no name"},
        {"node_id": "shout", "key": "fan#1[1]/1", "output": "B", "ports": ["out"]},
        {"node_id": "tag", "key": "fan#1[1]/1", "output": "#1 B", "ports": ["out"]},
    ]
    scheduler, pending = Scheduler.replay(graph, steps)
    assert [(a.node, a.key) for a in pending] == [("join", "1")]
    assert scheduler.join_items_of(pending[0]) == [{"error": "no name", "item": 1}, "#1 B"]
