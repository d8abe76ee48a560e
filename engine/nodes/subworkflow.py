from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from ..db import off_loop
from ..errors import NodeFailed
from .base import Config, NodeContext, NodeResult, NodeType, Usage

POLL_S = 0.05  # how often a child awaited in a coroutine is looked at
MAX_DEPTH = 5  # a workflow calling itself through others stops here, whatever slipped past the save-time check


class SubworkflowConfig(Config):
    workflow: int = Field(ge=1, description="Id of a workflow of the same team.")
    version: int | None = Field(default=None, ge=1, description="A pinned version number; empty runs the latest.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="The child's inputs: JSON whose strings are templates.",
                                   json_schema_extra={"x-template": True})


class SubworkflowNode(NodeType):
    """Runs another workflow as a child run. The parent does not wait for it
    on a worker: like a human step, the run is parked (engine/runner.py
    `_start_subworkflow`) and woken when the child ends — the child's finish
    sends the parent's advance, the sweeper is the backstop. A worker thread
    held per waiting parent deadlocked a deployment as soon as every thread
    held a parent whose child was queued behind it. The child inherits what is
    left of the parent's budgets; its steps are its own run, linked to this step."""

    type = "subworkflow"
    label = "Sub-workflow"
    category = "flow"
    description = "Runs another workflow of this team (latest or a pinned version) with mapped inputs; its output is the child's output."
    Config = SubworkflowConfig
    template_fields = ("inputs",)
    is_io = True  # it waits on something outside the run (shown so in the catalogue); the runner parks instead of awaiting
    spreadable = False  # needs the owner's budgets and run record
    testable = False
    testable_why = "it starts a run of another workflow"
    waits_for_child = True

    def run(self, config, ctx):  # pragma: no cover - the runner parks sub-workflow steps
        raise NotImplementedError

    async def arun(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        """Start (or find) the child and wait for it in a coroutine. Only for a
        child awaited inside another step — an agent's workflow tool, whose
        model conversation cannot be parked halfway (engine/tools.py); that
        agent step does keep its worker busy until the child ends. A
        `subworkflow` node is parked instead (the runner never calls this)."""
        child_id = await off_loop(start_child)(config, ctx)
        try:
            while (result := await off_loop(outcome)(child_id)) is None:
                await asyncio.sleep(POLL_S)
        except asyncio.CancelledError:
            await off_loop(_cancel_child)(child_id)
            raise
        return result


def start_child(config: dict[str, Any], ctx: NodeContext) -> int:
    """The step's child run: found again if it exists, else created and queued. NodeFailed if refused."""
    return _start_child(config, ctx, child_key(ctx))


def outcome(child_id: int) -> NodeResult | None:
    """The step's result once its child has ended (None while it runs); NodeFailed if the child did not succeed."""
    child = _child_state(child_id)
    if child["status"] not in ("succeeded", "failed", "cancelled"):
        return None
    usage = Usage(tokens_in=child["tokens"], tokens_out=0, cost_usd=child["cost_usd"])
    if child["status"] != "succeeded":
        message = (child["error"] or {}).get("message", child["status"])
        raise NodeFailed(f"sub-workflow run {child_id} {child['status']}: {message}")
    return NodeResult(output=child["output"], usage=usage, model=f"run {child_id}")


def cancel_child(child_id: int) -> None:
    _cancel_child(child_id)


def child_key(ctx: NodeContext) -> str:
    """The activation a child belongs to: the step's key. A step executed
    again (its owner died, the run was woken or replayed) finds that child
    again. A child's failure is not retried, so one key per activation."""
    return ctx.key


def _start_child(config: dict[str, Any], ctx: NodeContext, key: str) -> int:
    from ..models import Run
    from ..product import ProductError, product

    # A step executed again (its owner died, or the run was replayed) finds the
    # child it started before instead of starting another: a child is keyed by
    # (parent run, node, activation).
    existing = Run.objects.filter(parent_run_id=ctx.run_id, parent_node=ctx.node_id, parent_key=key).values_list("pk", flat=True).first()
    if existing is not None:
        return existing
    parent = Run.objects.only("depth").get(pk=ctx.run_id)
    if parent.depth + 1 > MAX_DEPTH:
        raise NodeFailed(f"node '{ctx.node_id}': sub-workflows nest deeper than {MAX_DEPTH}; does a workflow call itself?")
    # Recursion, whichever version brought it here: a workflow already running
    # in this chain of parents is not started again below itself.
    chain, current = [], ctx.run_id
    while current is not None and len(chain) <= MAX_DEPTH:
        row = Run.objects.filter(pk=current).values("workflow_id", "parent_run_id").first()
        if row is None:
            break
        chain.append(row["workflow_id"])
        current = row["parent_run_id"]
    if config["workflow"] in chain:
        raise NodeFailed(f"node '{ctx.node_id}': workflow {config['workflow']} is already running above this step "
                         "(a sub-workflow may not call itself, through any version); nothing was started")
    workflow = product().workflow(ctx.team_id, config["workflow"], config.get("version"))
    if workflow is None:
        raise NodeFailed(f"node '{ctx.node_id}': workflow {config['workflow']} is not a workflow of this team")
    if workflow.version_id is None:
        raise NodeFailed(f"node '{ctx.node_id}': workflow {workflow.id} has no version {config.get('version')}")
    graph = _with_inherited_budgets(workflow.graph, ctx.budget or {})
    try:
        return product().start_child_run(parent_run_id=ctx.run_id, workflow=workflow, graph=graph,
                                         run_input=config.get("inputs") or {}, node=ctx.node_id, key=key)
    except ProductError as exc:
        raise NodeFailed(f"node '{ctx.node_id}': the sub-workflow's {exc.message}") from exc


def _with_inherited_budgets(graph: dict[str, Any], left: dict[str, Any]) -> dict[str, Any]:
    """The child may spend at most what the parent has left."""
    settings = dict(graph.get("settings") or {})
    for name in ("max_steps", "max_tokens", "max_cost_usd", "timeout_s"):
        remaining = left.get(name)
        if remaining is None:
            continue
        own = settings.get(name)
        settings[name] = remaining if own is None else min(own, remaining)
    if isinstance(settings.get("max_steps"), float):
        settings["max_steps"] = max(1, int(settings["max_steps"]))
    return {**graph, "settings": settings}


def _child_state(child_id: int) -> dict[str, Any]:
    from ..models import Run

    return Run.objects.filter(pk=child_id).values("status", "output", "error", "tokens", "cost_usd").get()


def _cancel_child(child_id: int) -> None:
    from ..product import product

    product().cancel_run(child_id)
