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
