from __future__ import annotations

from .base import NodeContext, NodeResult, NodeType


class MergeNode(NodeType):
    type = "merge"
    label = "Merge"
    category = "flow"
    description = "Waits for every branch that was taken and outputs their results keyed by node id."

    def run(self, config, ctx: NodeContext) -> NodeResult:
        return NodeResult(output=dict(ctx.incoming))
