"""The event vocabulary, named once. The engine emits these; the WebSocket
consumer forwards them; the browser applies them. Every event carries `run`,
`type`, `at` (Unix time) and, once published, `seq`: the run's event sequence number.

run.started    {status}
run.finished   {status, output, error, usage: {tokens, cost_usd, steps}, duration_ms}
step.started   {node, key, node_type, input, attempt}   again after a takeover: earlier text void
step.delta     {node, key, text}                 token text, coalesced
step.retrying  {node, key, attempt, error}       the partial text so far is void (also: its fan-out chunk taken back)
step.finished  {node, key, status, output, ports, usage, model, demo, attempts, duration_ms, run_usage}
step.failed    {node, key, error, attempts, duration_ms}
step.skipped   {node, key}                       not reached on this activation
step.cancelled {node, key}
step.waiting   {node, key, prompt, assignees, form, allow_reject, deadline}   a human step asks a person
run.waiting    {waiting_on: [{node, key, assignees}]}   parked until an answer: no worker is held
"""
from __future__ import annotations

import time
from typing import Any

RUN_STARTED = "run.started"
RUN_FINISHED = "run.finished"
STEP_STARTED = "step.started"
STEP_DELTA = "step.delta"
STEP_RETRYING = "step.retrying"
STEP_FINISHED = "step.finished"
STEP_FAILED = "step.failed"
STEP_SKIPPED = "step.skipped"
STEP_CANCELLED = "step.cancelled"
STEP_WAITING = "step.waiting"
RUN_WAITING = "run.waiting"

ALL = {RUN_STARTED, RUN_FINISHED, RUN_WAITING, STEP_STARTED, STEP_DELTA, STEP_RETRYING, STEP_FINISHED, STEP_FAILED, STEP_SKIPPED,
       STEP_CANCELLED, STEP_WAITING}


def event(kind: str, run_id: int, **payload: Any) -> dict[str, Any]:
    """An event; `at` is when it happened (Unix seconds), for durations and timelines."""
    assert kind in ALL, kind
    return {"type": kind, "run": run_id, "at": round(time.time(), 4), **payload}


def group_name(run_id: int) -> str:
    return f"run-{run_id}"


def log_key(run_id: int) -> str:
    return f"orchestrator:run:{run_id}:events"


def seq_key(run_id: int) -> str:
    return f"orchestrator:run:{run_id}:seq"
