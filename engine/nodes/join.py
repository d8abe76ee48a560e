from __future__ import annotations

from .base import NodeContext, NodeResult, NodeType


class JoinNode(NodeType):
    type = "join"
    label = "Join"
    category = "flow"
    description = "Closes a fan-out: waits for every item and outputs their results as a list, in item order."
    closes_fanout = True

    def run(self, config, ctx: NodeContext) -> NodeResult:
        return NodeResult(output=list(ctx.join_items))
