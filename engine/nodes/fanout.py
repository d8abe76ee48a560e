from __future__ import annotations

import os

from typing import Any, Literal

from pydantic import Field

from ..errors import NodeFailed
from .base import Config, NodeContext, NodeResult, NodeType

MAX_ITEMS = int(os.environ.get("FANOUT_MAX_ITEMS", "10000"))  # README "Resource limits"


class FanoutConfig(Config):
    items: Any = Field(
        description="The list to fan out over, usually one expression such as `{{ nodes.plan.output.subtasks }}`.",
        json_schema_extra={"x-template": True},
    )
    # No limit by default: every item's calls go out at once, as peers do. A
    # provider that cannot take them answers 429, which the model nodes retry
    # with backoff; a team that wants fewer in flight sets this per node.
    max_parallel: int | None = Field(
        default=None, ge=1, le=10000, description="How many items run at once; empty runs them all at once.",
    )
    # What one failing item does to the others. "fail" (the default, and the
    # behaviour before this option existed) ends the run; "skip" and
    # "collect" keep the other items going and let the join fire anyway.
    on_item_error: Literal["fail", "skip", "collect"] = Field(
        default="fail", title="On item error",
        description="fail: one failing item fails the run; skip: the join's list leaves the failed item out; "
                    "collect: the join's list holds {\"error\": …, \"item\": …} in the failed item's place.",
    )


class FanoutNode(NodeType):
    type = "fanout"
    label = "Fan-out"
    category = "flow"
    description = "Runs the region up to its `join` once per item, in parallel; `item` and `index` are in scope there."
    Config = FanoutConfig
    template_fields = ("items",)
    opens_fanout = True

    def run(self, config, ctx: NodeContext) -> NodeResult:
        items = config.get("items")
        if isinstance(items, dict):
            items = [{"key": k, "value": v} for k, v in items.items()]
        if not isinstance(items, list):
            raise NodeFailed(f"node '{ctx.node_id}', field 'items': expected a list, got {type(items).__name__}: {str(items)[:80]!r}")
        if len(items) > MAX_ITEMS:
            raise NodeFailed(f"node '{ctx.node_id}', field 'items': {len(items)} items, over the limit of {MAX_ITEMS} (FANOUT_MAX_ITEMS); split the list")
        return NodeResult(output=items)
