"""The engine end to end: runs advanced by a real Celery worker on a real
Redis, model calls through the real openai client to the fake server."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from editor import services
from editor.models import Run, Step
from engine.runner import Lease, RunExecutor
from tests.conftest import wait_for_run
from tests.fake_openai import Reply

TEMPLATES = Path(__file__).resolve().parents[2] / "editor" / "workflow_templates"


def wf(nodes, edges, **settings):
    return {"format": "orchestrator.workflow/v1", "name": "t", "nodes": [{"id": "start", "type": "start"}] + nodes,
            "edges": edges, "settings": settings or {"max_steps": 500}}


def llm_node(node_id, prompt="say {{ input.x | default('hi') }}", **config):
    return {"id": node_id, "type": "llm", "config": {"prompt": prompt, **config}}


def out(node_id="out", value="{{ nodes }}"):
    return {"id": node_id, "type": "output", "config": {"value": value}}


def steps_of(run):
    return [(s.node_id, s.key, s.status) for s in run.steps.order_by("seq", "id")]


def llm_fanout(items: str) -> dict:
    """start → fanout over `items` → an llm step per item → join → out (the joined replies)."""
    return wf(
        [{"id": "fan", "type": "fanout", "config": {"items": items, "max_parallel": 100}},
         llm_node("work", prompt="item {{ item }}"), {"id": "join", "type": "join"}, out(value="{{ nodes.join.output }}")],
        [{"source": "start", "target": "fan"}, {"source": "fan", "target": "work"}, {"source": "work", "target": "join"},
         {"source": "join", "target": "out"}],
    )


def test_a_template_runs_on_the_demo_model_and_marks_demo_steps(run_graph, settings):
    settings.OPENAI_API_KEY = ""
    graph = json.loads((TEMPLATES / "evaluator-optimizer.json").read_text())
    run = run_graph(graph, {"spec": "a palindrome checker"})
    assert run.status == "succeeded", run.error
    assert run.output["approved"] is True and run.output["iterations"] == 2
    generate = run.steps.filter(node_id="generate")
    assert generate.count() == 2 and all(step.demo for step in generate)
    assert "Revised to address the feedback" in run.output["code"]


def test_independent_model_calls_overlap_in_a_fanout(run_graph, fake_llm):
    fake_llm.latency_s = 0.2
    graph = llm_fanout("{{ range(40) | list }}")
    started = time.monotonic()
    run = run_graph(graph)
    elapsed = time.monotonic() - started
    assert run.status == "succeeded", run.error
    assert run.output == [f"fake reply to: item {i}" for i in range(40)]  # item order kept
    assert elapsed < 0.2 * 40 / 4, f"40 calls of 0.2 s took {elapsed:.2f} s: they did not overlap"


def test_max_parallel_bounds_concurrent_items(run_graph, fake_llm):
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def responder(body):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return None

    fake_llm.responder = responder
    graph = wf(
        [{"id": "fan", "type": "fanout", "config": {"items": "{{ range(9) | list }}", "max_parallel": 3}},
         llm_node("work", prompt="item {{ item }}"), {"id": "join", "type": "join"}, out(value="{{ nodes.join.output | length }}")],
        [{"source": "start", "target": "fan"}, {"source": "fan", "target": "work"}, {"source": "work", "target": "join"},
         {"source": "join", "target": "out"}],
    )
    run = run_graph(graph)
    assert run.status == "succeeded" and run.output == 9
    assert peak[0] == 3


def test_empty_fanout_goes_straight_to_join(run_graph):
    graph = wf(
        [{"id": "fan", "type": "fanout", "config": {"items": "{{ [] }}"}}, {"id": "work", "type": "transform", "config": {"value": "{{ item }}"}},
         {"id": "join", "type": "join"}, out(value="{{ nodes.join.output }}")],
        [{"source": "start", "target": "fan"}, {"source": "fan", "target": "work"}, {"source": "work", "target": "join"},
         {"source": "join", "target": "out"}],
    )
    run = run_graph(graph)
    assert run.status == "succeeded" and run.output == []
    assert not run.steps.filter(node_id="work").exists()


def test_condition_skips_the_branch_not_taken(run_graph):
    graph = wf(
        [{"id": "check", "type": "condition", "config": {"expression": "input.n > 2"}},
         {"id": "big", "type": "transform", "config": {"value": "big"}}, {"id": "small", "type": "transform", "config": {"value": "small"}},
         {"id": "after_small", "type": "transform", "config": {"value": "{{ nodes.small.output }}!"}},
         {"id": "both", "type": "merge"}, out(value="{{ nodes.both.output }}")],
        [{"source": "start", "target": "check"}, {"source": "check", "source_port": "true", "target": "big"},
         {"source": "check", "source_port": "false", "target": "small"}, {"source": "small", "target": "after_small"},
         {"source": "big", "target": "both"}, {"source": "after_small", "target": "both"}, {"source": "both", "target": "out"}],
    )
    run = run_graph(graph, {"n": 5})
    assert run.output == {"big": "big"}
    statuses = {node: status for node, _, status in steps_of(run)}
    assert statuses["small"] == "skipped" and statuses["after_small"] == "skipped" and statuses["both"] == "succeeded"


def test_loop_stops_at_its_cap_and_leaves_through_done(run_graph, fake_llm):
    fake_llm.responder = lambda body: Reply(text="needs work")
    graph = json.loads((TEMPLATES / "evaluator-optimizer.json").read_text())
    run = run_graph(graph, {"spec": "x"})
    assert run.status == "succeeded", run.error
    assert run.steps.filter(node_id="generate", status="succeeded").count() == 3
    assert run.output["approved"] is False and run.output["iterations"] == 3
    assert run.steps.filter(node_id="retry").count() == 4  # three iterations, then the firing that goes out through done


def test_undefined_template_name_fails_the_step_naming_node_field_and_name(run_graph):
    graph = wf([{"id": "shape", "type": "transform", "config": {"value": "{{ input.missing.deep }} text"}}, out()],
               [{"source": "start", "target": "shape"}, {"source": "shape", "target": "out"}])
    run = run_graph(graph)
    assert run.status == "failed"
    assert run.error["node"] == "shape"
    assert "node 'shape', field 'value': undefined name 'input.missing.deep'" in run.error["message"]
    step = run.steps.get(node_id="shape")
    assert step.status == "failed" and "input.missing" in step.error


def test_transient_model_errors_are_retried_with_backoff(run_graph, fake_llm):
    fake_llm.script.extend([Reply(status=429), Reply(status=500), Reply(text="finally")])
    graph = wf([llm_node("ask", retry=None) if False else {"id": "ask", "type": "llm", "config": {"prompt": "hi"}, "retry": {"max_attempts": 3, "backoff_s": 0.01}}, out(value="{{ nodes.ask.output }}")],
               [{"source": "start", "target": "ask"}, {"source": "ask", "target": "out"}])
    run = run_graph(graph)
    assert run.status == "succeeded" and run.output == "finally"
    assert run.steps.get(node_id="ask").attempts == 3


def test_retries_exhausted_fail_the_run_with_the_provider_message(run_graph, fake_llm):
    fake_llm.script.extend([Reply(status=500)] * 2)
    graph = wf([{"id": "ask", "type": "llm", "config": {"prompt": "hi"}, "retry": {"max_attempts": 2, "backoff_s": 0.01}}, out()],
               [{"source": "start", "target": "ask"}, {"source": "ask", "target": "out"}])
    run = run_graph(graph)
    assert run.status == "failed"
    step = run.steps.get(node_id="ask")
    assert step.attempts == 2 and "provider error 500" in step.error
    assert "step 'ask' (ask) failed" in run.error["message"]


def test_per_node_timeout(run_graph, fake_llm):
    fake_llm.script.append(Reply(text="slow", delay_s=1.5))
    graph = wf([{"id": "ask", "type": "llm", "config": {"prompt": "hi"}, "timeout_s": 0.2, "retry": {"max_attempts": 1}}, out()],
               [{"source": "start", "target": "ask"}, {"source": "ask", "target": "out"}])
    run = run_graph(graph)
    assert run.status == "failed" and "timed out after 0.2 s" in run.steps.get(node_id="ask").error


def test_max_steps_budget_stops_a_run(run_graph):
    graph = wf(
        [{"id": "again", "type": "loop", "config": {"max_iterations": 100}}, {"id": "tick", "type": "transform", "config": {"value": 1}}],
        [{"source": "start", "target": "again"}, {"source": "again", "source_port": "next", "target": "tick"}, {"source": "tick", "target": "again"}],
        max_steps=10,
    )
    run = run_graph(graph)
    assert run.status == "failed" and run.error["reason"] == "max_steps"
    assert "max_steps = 10" in run.error["message"]
    assert run.steps.exclude(status="skipped").count() == 10


def test_max_tokens_budget_stops_a_run(run_graph, fake_llm):
    graph = wf([llm_node("a"), llm_node("b", prompt="{{ nodes.a.output }}"), out()],
               [{"source": "start", "target": "a"}, {"source": "a", "target": "b"}, {"source": "b", "target": "out"}],
               max_tokens=3)
    run = run_graph(graph)
    assert run.status == "failed" and run.error["reason"] == "max_tokens"
    assert not run.steps.filter(node_id="b").exists()


def test_run_timeout(run_graph, fake_llm):
    fake_llm.script.append(Reply(text="slow", delay_s=3))
    graph = wf([llm_node("a"), out()], [{"source": "start", "target": "a"}, {"source": "a", "target": "out"}], timeout_s=0.5)
    started = time.monotonic()
    run = run_graph(graph)
    assert run.status == "failed" and run.error["reason"] == "timeout"
    assert time.monotonic() - started < 2.5
    assert run.steps.get(node_id="a").status == "cancelled"


def test_cancel_takes_effect_within_a_second(run_graph, fake_llm):
    fake_llm.script.append(Reply(text="never seen", delay_s=5))
    graph = wf([llm_node("a"), out()], [{"source": "start", "target": "a"}, {"source": "a", "target": "out"}])
    run = run_graph(graph, wait=False)
    deadline = time.monotonic() + 5
    while not Step.objects.filter(run=run, node_id="a", status="running").exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    asked = time.monotonic()
    services.cancel_run(run)
    run = wait_for_run(run.pk, timeout=3)
    assert run.status == "cancelled"
    assert time.monotonic() - asked < 1.0
    assert run.steps.get(node_id="a").status == "cancelled"


def test_a_queued_run_is_cancelled_at_once(personas, transactional_db):
    run = Run.objects.create(graph={}, team=personas["acme"])
    services.cancel_run(run)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert RunExecutor(run.pk).execute() is None  # a worker picking it up later does nothing


def test_a_run_resumes_after_its_worker_died_without_recording_a_step_twice(personas, transactional_db, settings, fake_llm):
    """Simulate a worker killed mid-run: some steps recorded, one left running.
    A new owner replays the record, re-runs only the unfinished work."""
    graph = wf([llm_node("a", prompt="first"), llm_node("b", prompt="second {{ nodes.a.output }}"), out(value="{{ nodes.b.output }}")],
               [{"source": "start", "target": "a"}, {"source": "a", "target": "b"}, {"source": "b", "target": "out"}])
    run = Run.objects.create(graph=graph, team=personas["acme"], status="running", input={})
    Step.objects.create(run=run, node_id="start", key="1", node_type="start", status="succeeded", output={}, ports=["out"], seq=1)
    Step.objects.create(run=run, node_id="a", key="1", node_type="llm", status="succeeded", output="A", ports=["out"], seq=2, tokens_in=1, tokens_out=1)
    Step.objects.create(run=run, node_id="b", key="1", node_type="llm", status="running", attempts=1, seq=0)
    status = RunExecutor(run.pk).execute()
    run.refresh_from_db()
    assert status == "succeeded", run.error
    assert run.output == "fake reply to: second A"
    assert [body["messages"][-1]["content"] for body in fake_llm.requests] == ["second A"]  # `a` was not called again
    assert run.steps.filter(node_id="b").count() == 1 and run.steps.get(node_id="b").status == "succeeded"
    assert run.tokens >= 2  # usage of the replayed step is kept


def test_only_the_lease_holder_advances_a_run(personas, transactional_db):
    graph = wf([out(value="x")], [{"source": "start", "target": "out"}])
    run = Run.objects.create(graph=graph, team=personas["acme"])
    other = Lease(run.pk)
    assert other.acquire()
    try:
        assert RunExecutor(run.pk).execute() is None
        run.refresh_from_db()
        assert run.status == "queued" and not run.steps.exists()
    finally:
        other.release()
    assert RunExecutor(run.pk).execute() == "succeeded"


def test_a_wide_fanout_is_shared_with_other_workers(run_graph, fake_llm, settings):
    """Past ENGINE_SPREAD_MIN_BATCH, chunks of a fan-out go out as engine.run_steps
    tasks: executed by a worker task, recorded once by the run's owner."""
    settings.ENGINE_SPREAD_MIN_BATCH = 4
    settings.ENGINE_SPREAD = "always"  # even with one worker process
    settings.ENGINE_SPREAD_CHUNK = 3
    fake_llm.latency_s = 0.05
    graph = llm_fanout("{{ range(10) | list }}")
    run = run_graph(graph)
    assert run.status == "succeeded", run.error
    assert run.output == [f"fake reply to: item {i}" for i in range(10)]
    work = run.steps.filter(node_id="work")
    assert work.count() == 10 and all(step.status == "succeeded" and step.tokens_out > 0 for step in work)
    executors = {step.executor for step in work}
    assert len(executors) == 2, executors  # the owner's share and the task's share
    assert len(fake_llm.requests) == 10  # each call made once


def test_with_no_other_worker_alive_a_wide_fanout_stays_with_its_owner(run_graph, fake_llm, settings):
    """ENGINE_SPREAD "auto" (the default) with one worker process: nothing goes
    through the broker (a chunk sent to a queue nobody serves would only come
    back after ENGINE_REMOTE_START_S)."""
    import os

    from engine import redis_client, workers

    redis_client.client().delete(workers.KEY)
    workers._seen = (0.0, False)
    settings.ENGINE_SPREAD = "auto"
    settings.ENGINE_SPREAD_MIN_BATCH = 4
    settings.ENGINE_SPREAD_CHUNK = 3
    settings.ENGINE_SPREAD_QUEUE = f"nobody-serves-{os.getpid()}"
    settings.ENGINE_REMOTE_START_S = 30
    started = time.monotonic()
    run = run_graph(llm_fanout("{{ range(9) | list }}"))
    assert run.status == "succeeded", run.error
    assert time.monotonic() - started < 10
    assert len({step.executor for step in run.steps.filter(node_id="work")}) == 1
    assert len(fake_llm.requests) == 9


def test_another_worker_process_counts_only_while_it_stamps(db):
    import time as clock

    from engine import redis_client, workers

    client = redis_client.client()
    client.delete(workers.KEY)
    client.zadd(workers.KEY, {workers.me(): clock.time()})
    workers._seen = (0.0, False)
    assert workers.others_alive() is False  # only this process
    client.zadd(workers.KEY, {"elsewhere:1": clock.time()})
    workers._seen = (0.0, False)
    assert workers.others_alive() is True
    client.zadd(workers.KEY, {"elsewhere:1": clock.time() - workers.ALIVE_WITHIN_S - 1})
    workers._seen = (0.0, False)
    assert workers.others_alive() is False  # it stopped stamping: dead
    client.delete(workers.KEY)


def test_steps_sent_out_that_no_worker_starts_come_back_to_the_owner(run_graph, fake_llm, settings):
    """Chunks sent to a queue no worker serves: the owner claims them back
    after ENGINE_REMOTE_START_S and runs them itself, each step once."""
    import os

    settings.ENGINE_SPREAD_MIN_BATCH = 4

    settings.ENGINE_SPREAD = "always"  # even with one worker process
    settings.ENGINE_SPREAD_CHUNK = 3
    settings.ENGINE_SPREAD_QUEUE = f"nobody-serves-{os.getpid()}"
    settings.ENGINE_REMOTE_START_S = 0.5
    graph = llm_fanout("{{ range(9) | list }}")
    started = time.monotonic()
    run = run_graph(graph)
    assert run.status == "succeeded", run.error
    assert time.monotonic() - started < 10
    assert run.output == [f"fake reply to: item {i}" for i in range(9)]
    assert len({step.executor for step in run.steps.filter(node_id="work")}) == 1  # all run by the owner
    assert len(fake_llm.requests) == 9


def test_a_chunk_that_beats_but_delivers_nothing_is_taken_back(run_graph, fake_llm, settings):
    """A worker claims the sent chunks and keeps beating, but never delivers a
    result (stuck in a call that never ends, a wedged loop): a heartbeat alone
    would keep the owner waiting for ever. After ENGINE_CHUNK_STALL_S without
    progress the owner takes the chunks back and runs their steps, each once."""
    import os
    import threading

    from django.db import connections
    from django.utils import timezone

    from engine.models import Chunk

    settings.ENGINE_SPREAD_MIN_BATCH = 4
    settings.ENGINE_SPREAD = "always"
    settings.ENGINE_SPREAD_CHUNK = 3
    settings.ENGINE_SPREAD_QUEUE = f"nobody-serves-{os.getpid()}"  # the test itself plays the stuck worker
    settings.ENGINE_REMOTE_START_S = 60  # unclaimed chunks would wait this long: only the stall can bring them back
    settings.ENGINE_CHUNK_STALL_S = 2
    stop, claimed = threading.Event(), []

    def stuck_worker() -> None:
        try:
            while not stop.is_set():
                now = timezone.now()
                claimed.extend(Chunk.objects.filter(claimed_by="").values_list("name", flat=True))
                Chunk.objects.filter(claimed_by="").update(claimed_by="stuck-worker", beat_at=now, progress_at=now)
                Chunk.objects.filter(claimed_by="stuck-worker").update(beat_at=now)  # alive, never any progress
                time.sleep(0.2)
        finally:
            connections.close_all()

    beating = threading.Thread(target=stuck_worker)
    beating.start()
    started = time.monotonic()
    try:
        run = run_graph(llm_fanout("{{ range(9) | list }}"), timeout=30)
    finally:
        stop.set()
        beating.join()
    assert run.status == "succeeded", run.error
    assert len(claimed) == 2, claimed  # the owner kept one share, two went out and were claimed
    assert 2 <= time.monotonic() - started < 15
    assert run.output == [f"fake reply to: item {i}" for i in range(9)]
    assert len(fake_llm.requests) == 9  # the stuck worker made none; the owner made each once
    assert not Chunk.objects.filter(run=run).exists()  # forgotten once the run ended
    # Clients are told each taken-back step runs again (what the stuck worker
    # streamed is void; the run view would otherwise show its text twice).
    from engine.models import RunEvent

    log = [json.loads(data) for data in RunEvent.objects.filter(run=run).order_by("seq").values_list("data", flat=True)]
    again = [e for e in log if e["type"] == "step.retrying"]
    assert len(again) == 6 and all("delivered no result" in e["error"] for e in again), again


def test_a_failed_remote_step_fails_the_run_with_its_message(run_graph, fake_llm, settings):
    settings.ENGINE_SPREAD_MIN_BATCH = 2
    settings.ENGINE_SPREAD = "always"  # even with one worker process
    settings.ENGINE_SPREAD_CHUNK = 1
    fake_llm.responder = lambda body: Reply(status=401) if "item 1" in body["messages"][-1]["content"] else None
    graph = llm_fanout("{{ [0, 1] }}")
    run = run_graph(graph)
    assert run.status == "failed"
    failed = run.steps.get(node_id="work", status="failed")
    assert failed.key == "fan#1[1]/1" and "refused the request (401)" in failed.error


def test_an_engine_bug_fails_the_run_visibly(personas, transactional_db, monkeypatch):
    """Not a user's mistake, but it must still end the run with a message, never leave it running."""
    graph = wf([out(value="x")], [{"source": "start", "target": "out"}])
    run = Run.objects.create(graph=graph, team=personas["acme"])
    monkeypatch.setattr(RunExecutor, "_run_output", lambda self: 1 / 0)
    assert RunExecutor(run.pk).execute() == "failed"
    run.refresh_from_db()
    assert run.status == "failed" and run.error["reason"] == "internal"
    assert "ZeroDivisionError" in run.error["message"]


def test_a_run_whose_owner_died_is_picked_up_by_the_sweeper(worker, personas):
    """A worker killed mid-run leaves the run `running` with a lapsed lease; any
    live worker's sweeper sends it again, and replay finishes it."""
    from engine.tasks import sweep_orphaned_runs

    graph = wf([out(value="finished")], [{"source": "start", "target": "out"}])
    orphan = Run.objects.create(graph=graph, team=personas["acme"], status="running", input={})
    Step.objects.create(run=orphan, node_id="start", key="1", node_type="start", status="succeeded", output={}, ports=["out"], seq=1)
    held = Run.objects.create(graph=graph, team=personas["acme"], status="running", input={})
    lease = Lease(held.pk)
    assert lease.acquire()  # a live owner: left alone
    try:
        assert sweep_orphaned_runs() == [orphan.pk]
        assert wait_for_run(orphan.pk).output == "finished"
        assert Run.objects.get(pk=held.pk).status == "running"
    finally:
        lease.release()
        Run.objects.filter(pk=held.pk).update(status="cancelled")


def test_an_answered_run_whose_wake_up_was_lost_is_picked_up_by_the_sweeper(worker, personas):
    """The person answered, but the message that should wake the run never
    arrived: the answer is on record, so the sweeper sends the run on."""
    from django.utils import timezone

    from engine.tasks import sweep_orphaned_runs

    graph = wf([{"id": "ask", "type": "human", "config": {"prompt": "ok?"}}, out(value="{{ nodes.ask.output.decision }}")],
               [{"source": "start", "target": "ask"}, {"source": "ask", "source_port": "approved", "target": "out"}])
    run = Run.objects.create(graph=graph, team=personas["acme"], status="waiting", input={}, started_at=timezone.now(),
                             parked_at=timezone.now())
    Step.objects.create(run=run, node_id="start", key="1", node_type="start", status="succeeded", output={}, ports=["out"], seq=1)
    step = Step.objects.create(run=run, node_id="ask", key="1", node_type="human", status="waiting", input={"prompt": "ok?"}, seq=0)
    unanswered = Run.objects.create(graph=graph, team=personas["acme"], status="waiting", input={})
    assert sweep_orphaned_runs() == []  # nobody has answered yet: nothing to do
    Step.objects.filter(pk=step.pk).update(answer={"decision": "approve", "answer": {}, "by": "bob"})
    assert sweep_orphaned_runs() == [run.pk]
    assert wait_for_run(run.pk).output == "approved"
    assert Run.objects.get(pk=unanswered.pk).status == "waiting"
