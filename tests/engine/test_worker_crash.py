"""A worker killed mid-step: the step is executed again by another worker, the
run finishes, and every step is recorded once. Real processes, real SIGKILL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from editor.models import Run, Step
from tests.conftest import _database_url, wait_for_run
from tests.fake_openai import Reply

pytestmark = pytest.mark.slow

GRAPH = {"format": "orchestrator.workflow/v1", "name": "crash",
         "nodes": [{"id": "start", "type": "start"},
                   {"id": "first", "type": "transform", "config": {"value": "before the crash"}},
                   {"id": "slow", "type": "llm", "config": {"prompt": "take your time"}},
                   {"id": "out", "type": "output", "config": {"value": "{{ nodes.first.output }} / {{ nodes.slow.output }}"}}],
         "edges": [{"source": "start", "target": "first"}, {"source": "first", "target": "slow"}, {"source": "slow", "target": "out"}]}


def start_worker(name: str, queue: str, fake_url: str, sweep: bool) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=_database_url(), OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_url,
               ORCHESTRATOR_DEFAULT_MODEL="fake-model", ENGINE_LEASE_TTL_S="2", ENGINE_SWEEP_EVERY_S="0.5",
               ENGINE_SWEEP_ORPHANS="true" if sweep else "false", DJANGO_SETTINGS_MODULE="orchestrator_site.settings")
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "orchestrator_site", "worker", "-P", "threads", "-c", "4",
                             "-Q", f"{queue},celery", "-n", f"{name}@%h", "-l", "error"], env=env, start_new_session=True)


def test_a_worker_killed_mid_step_leaves_no_run_stuck_and_no_step_twice(transactional_db, personas, fake_llm):
    """Whichever live worker takes the run over (the survivor, or the suite's
    in-process worker), the model it reaches is the same fake server."""
    from engine.tasks import advance_run

    fake = fake_llm
    fake.script.extend([Reply(text="never delivered", delay_s=30), Reply(text="done by the second worker")])
    queue = f"crash-{os.getpid()}"
    run = Run.objects.create(graph=GRAPH, team=personas["acme"], input={})
    doomed = start_worker("doomed", queue, fake.base_url, sweep=False)
    survivor = None
    try:
        advance_run.apply_async((run.pk,), queue=queue)
        deadline = time.monotonic() + 30
        while not (Step.objects.filter(run=run, node_id="slow", status="running").exists() and fake.requests):
            assert time.monotonic() < deadline, "the first worker never started the slow step"
            time.sleep(0.05)
        os.killpg(doomed.pid, signal.SIGKILL)  # mid-step, no goodbye
        doomed.wait(10)
        assert Run.objects.get(pk=run.pk).status == "running"
        survivor = start_worker("survivor", queue, fake.base_url, sweep=True)
        run = wait_for_run(run.pk, timeout=60)
    finally:
        for process in (doomed, survivor):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(20)
    assert run.status == "succeeded", run.error
    assert run.output == "before the crash / done by the second worker"
    for node in ("start", "first", "slow", "out"):
        assert Step.objects.filter(run=run, node_id=node).count() == 1, node
    slow = Step.objects.get(run=run, node_id="slow")
    assert slow.status == "succeeded" and slow.attempts == 1
    assert len(fake.requests) == 2  # the slow call was made again by the survivor, nothing else was


FANOUT = {"format": "orchestrator.workflow/v1", "name": "crash in a fan-out",
          "nodes": [{"id": "start", "type": "start"},
                    {"id": "fan", "type": "fanout", "config": {"items": "{{ range(8) | list }}", "max_parallel": 100}},
                    {"id": "work", "type": "llm", "config": {"prompt": "item {{ item }}"}},
                    {"id": "join", "type": "join"},
                    {"id": "out", "type": "output", "config": {"value": "{{ nodes.join.output | length }}"}}],
          "edges": [{"source": "start", "target": "fan"}, {"source": "fan", "target": "work"}, {"source": "work", "target": "join"},
                    {"source": "join", "target": "out"}]}


def test_a_worker_killed_while_running_part_of_a_fanout_hands_it_back_within_seconds(run_graph, fake_llm, settings):
    """The owner (the suite's worker) sends part of a fan-out to another worker,
    which is killed mid-call. Its heartbeat stops; the owner runs those steps
    itself within seconds, not after the calls' whole time limits."""
    queue = f"spread-{os.getpid()}"
    settings.ENGINE_SPREAD_MIN_BATCH = 4
    settings.ENGINE_SPREAD = "always"  # even with one worker process
    settings.ENGINE_SPREAD_CHUNK = 4
    settings.ENGINE_SPREAD_QUEUE = queue
    settings.ENGINE_REMOTE_START_S = 60  # the chunk comes back because its worker died, not because nobody started it
    asked: set[str] = set()

    def first_time_slow(body):  # the doomed worker's calls never answer; the owner's answer at once
        prompt = body["messages"][-1]["content"]
        slow = prompt not in asked and int(prompt.split()[-1]) >= 4
        asked.add(prompt)
        return Reply(delay_s=60) if slow else None

    fake_llm.responder = first_time_slow
    doomed = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "orchestrator_site", "worker", "-P", "threads", "-c", "2", "-Q", queue,
         "-n", f"doomed-spread-{os.getpid()}@%h", "-l", "error"],
        env=dict(os.environ, DATABASE_URL=_database_url(), OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_llm.base_url,
                 ORCHESTRATOR_DEFAULT_MODEL="fake-model", ENGINE_REMOTE_HEARTBEAT_TTL_S="1.5", ENGINE_SWEEP_ORPHANS="false",
                 DJANGO_SETTINGS_MODULE="orchestrator_site.settings"),
        start_new_session=True)
    try:
        run = run_graph(FANOUT, wait=False)
        deadline = time.monotonic() + 30
        while len([p for p in asked if int(p.split()[-1]) >= 4]) < 4:
            assert time.monotonic() < deadline, "the other worker never started its share"
            time.sleep(0.05)
        os.killpg(doomed.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        run = wait_for_run(run.pk, timeout=30)
        recovered_in = time.monotonic() - killed_at
    finally:
        if doomed.poll() is None:
            os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    assert run.status == "succeeded", run.error
    assert run.output == 8
    assert recovered_in < 10, recovered_in
    work = Step.objects.filter(run=run, node_id="work")
    assert work.count() == 8 and all(step.status == "succeeded" for step in work)
    assert len(fake_llm.requests) == 12  # the four lost calls were made again, nothing else was
