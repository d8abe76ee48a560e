from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from ..db import off_loop
from ..errors import NodeFailed
from .base import Config, NodeContext, NodeResult, NodeType, Usage

MAX_DEPTH = 5  # a workflow calling itself through others stops here, whatever slipped past the save-time check
POLL_S = 0.05


class SubworkflowConfig(Config):
    workflow: int = Field(ge=1, description="Id of a workflow of the same team.")
    version: int | None = Field(default=None, ge=1, description="A pinned version number; empty runs the latest.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="The child's inputs: JSON whose strings are templates.",
                                   json_schema_extra={"x-template": True})


class SubworkflowNode(NodeType):
    """Runs another workflow as a child run and waits for it without holding a
    thread (a coroutine polls the record). The child inherits what is left of
    the parent's budgets; its steps are its own run, linked to this step."""

    type = "subworkflow"
    label = "Sub-workflow"
    category = "flow"
    description = "Runs another workflow of this team (latest or a pinned version) with mapped inputs; its output is the child's output."
    Config = SubworkflowConfig
    template_fields = ("inputs",)
    is_io = True
    spreadable = False  # needs the owner's budgets and run record
    testable = False
    testable_why = "it starts a run of another workflow"

    def run(self, config, ctx):  # pragma: no cover - io nodes only run async
        raise NotImplementedError

    async def arun(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        child_id = await off_loop(_start_child)(config, ctx, child_key(ctx))
        try:
            while True:
                child = await off_loop(_child_state)(child_id)
                if child["status"] in ("succeeded", "failed", "cancelled"):
                    break
                await asyncio.sleep(POLL_S)
        except asyncio.CancelledError:
            await off_loop(_cancel_child)(child_id)
            raise
        usage = Usage(tokens_in=child["tokens"], tokens_out=0, cost_usd=child["cost_usd"])
        if child["status"] != "succeeded":
            message = (child["error"] or {}).get("message", child["status"])
            raise NodeFailed(f"sub-workflow run {child_id} {child['status']}: {message}")
        return NodeResult(output=child["output"], usage=usage, model=f"run {child_id}")


def child_key(ctx: NodeContext) -> str:
    """The activation a child belongs to: the step's key, and the attempt when
    a failed child is retried (a retry is a new child; a re-execution of the
    same attempt after a crash is not)."""
    return ctx.key if ctx.attempt <= 1 else f"{ctx.key}@{ctx.attempt}"


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
