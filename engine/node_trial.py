""""Test this node": run one node alone, with the template scope it had (or
would have had) in a past run, without starting a run and recording nothing.

The scope is rebuilt the way a run resumes: the past run's recorded steps are
replayed into the scheduler up to the tested node's step, and the node's
pending activation gives `input`, `nodes.*`, `vars`, `loop`, `item`/`index`
exactly as the runner would have seen them. A node that never ran in that run
(a node added since, or one skipped) gets the scope of the run's end at the
top level. The node's config comes from the caller (the draft on the canvas),
so a prompt can be tried before it is saved.

Bounded like a step: the sandboxed templates, the node's own time limit (or
TEST_NODE_TIMEOUT_S, whichever is lower) and one attempt. Nodes that wait for a
person or start runs of their own cannot be tested alone."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from pydantic import ValidationError

from . import execution, ioloop, templating, values
from .errors import NodeFailed, WorkflowError
from .graph import InvalidWorkflow, load_cached
from .models import Run, Step
from .nodes import NODE_TYPES
from .nodes.base import NodeContext, NodeResult
from .recording import Recorder
from .scheduler import Activation, ReplayMismatch, Scheduler


log = logging.getLogger(__name__)


class NotTestable(Exception):
    """The request cannot be tested (a 400 naming what and why)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass
class Scope:
    scope: dict[str, Any]
    key: str  # the activation whose scope it is ("" when the node never ran in the run)
    incoming: dict[str, Any]
    join_items: list[Any]


def scope_from_run(run: Run, node_id: str, key: str | None = None) -> Scope:
    """The scope `node_id` had at its step `key` (default: its last step) in `run`."""
    try:
        graph = load_cached(run.graph)
    except InvalidWorkflow as exc:
        raise NotTestable(f"run: run {run.pk}'s workflow no longer loads: {exc}", "run") from exc
    rows = list(run.steps.filter(status__in=[Step.Status.SUCCEEDED, Step.Status.FAILED]).order_by("seq", "id")
                .values("node_id", "key", "status", "output", "ports", "set_vars", "error"))
    if key is None:
        mine = [r["key"] for r in rows if r["node_id"] == node_id]
        key = mine[-1] if mine else None
    elif not any(r["node_id"] == node_id and r["key"] == key for r in rows):
        raise NotTestable(f"key: run {run.pk} has no finished step of '{node_id}' with key '{key}'", "key")
    replayed = []
    for row in rows:
        if row["node_id"] == node_id and row["key"] == key:
            break  # the scope as this step saw it: what finished before it
        if row["status"] == Step.Status.SUCCEEDED:
            replayed.append(row)
        elif "/" in row["key"]:
            replayed.append({**row, "failed": True})  # a failure a fan-out tolerated
    try:
        scheduler, pending = Scheduler.replay(graph, replayed)
    except ReplayMismatch as exc:
        raise NotTestable(f"run: run {run.pk}'s steps cannot be replayed: {exc}", "run") from exc
    act = next((a for a in pending if a.node == node_id and (key is None or a.key == key)), None)
    if act is None:
        act = Activation(node_id, "", 1)  # never ran: the scope at the top level, at the run's end
    run_info = {"id": run.pk, "workflow": run.workflow_id}
    # A chat turn's `conversation.*`: the conversation as it is now (a later turn may have changed it).
    extra = Recorder(run).conversation_scope()
    return Scope(scheduler.context(act, run.input or {}, run_info, extra), act.key if act in pending else "",
                 scheduler.incoming_of(act), scheduler.join_items_of(act))


def try_node(run: Run, node: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """Run `node` (a format-v1 node: id, type, config and the rest) with its
    scope in `run`; the result as the API returns it, failures included."""
    node_type = NODE_TYPES.get(str(node.get("type")))
    node_id = str(node.get("id") or "")
    if node_type is None:
        raise NotTestable(f"node: unknown node type '{node.get('type')}'", "node")
    if not node_type.executable or not node_type.has_input:
        raise NotTestable(f"node: a {node_type.type} node computes nothing to test", "node")
    if node_type.waits_for_person:
        raise NotTestable(f"node: '{node_id}' waits for a person's answer; test it in a run", "node")
    if not node_type.testable:
        raise NotTestable(f"node: a {node_type.type} node cannot be tested alone ({node_type.testable_why}); test it in a run", "node")
    try:
        config = node_type.Config.model_validate(node.get("config") or {}).model_dump(by_alias=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "config" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise NotTestable(f"node '{node_id}', {where}: {first['msg']}", "config") from exc
    found = scope_from_run(run, node_id, key)
    ctx = NodeContext(node_id=node_id, scope=found.scope, run_id=None, team_id=run.team_id, key=found.key or "test",
                      incoming=found.incoming, join_items=found.join_items)
    started = time.monotonic()
    result: dict[str, Any] = {"node": node_id, "run": run.pk, "key": found.key, "input": None}
    try:
        rendered = dict(config)
        for field in node_type.template_fields:
            if rendered.get(field) is not None:
                rendered[field] = templating.render(rendered[field], ctx.scope, node=node_id, field=field)
        result["input"] = values.encodable(rendered)
        outcome = _execute(node_type, node, rendered, ctx)
    except (NodeFailed, WorkflowError, execution.AttemptsExhausted) as exc:
        return _failed(result, exc.message, started)
    except Exception as exc:  # a bug in a node type: the test says so, as a run's step would, instead of a 500
        log.exception("testing node %s crashed", node_id)
        return _failed(result, f"internal error in {node_type.type} node: {type(exc).__name__}: {exc}", started)
    ports = sorted(set(outcome.ports)) if outcome.ports is not None else node_type.output_ports(config)
    return {**result, "status": "succeeded", "error": "", "output": values.encodable(outcome.output), "ports": ports,
            "set_vars": values.encodable(outcome.set_vars),
            "usage": {"tokens_in": outcome.usage.tokens_in, "tokens_out": outcome.usage.tokens_out, "cost_usd": outcome.usage.cost_usd},
            "model": outcome.model, "demo": outcome.demo, "duration_ms": _ms(started)}


def _execute(node_type, node: dict[str, Any], rendered: dict[str, Any], ctx: NodeContext) -> NodeResult:
    limit = settings.TEST_NODE_TIMEOUT_S
    own = node.get("timeout_s")
    timeout = min(limit, float(own)) if isinstance(own, (int, float)) and own > 0 else limit
    if not node_type.is_io:
        return node_type().run(rendered, ctx)
    future = ioloop.submit(execution.execute(node_type(), rendered, ctx, attempts=1, backoff=0, timeout=timeout,
                                             on_retry=lambda attempt, message: None))
    outcome, _ = future.result(timeout + 5)  # execute() times out first; this is the backstop
    return outcome


def _failed(result: dict[str, Any], message: str, started: float) -> dict[str, Any]:
    return {**result, "status": "failed", "error": values.encodable_text(str(message)), "output": None, "ports": [],
            "usage": {"tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0}, "model": "", "demo": False, "duration_ms": _ms(started)}


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)
