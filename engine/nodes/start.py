from __future__ import annotations

from .base import NodeContext, NodeResult, NodeType


class StartNode(NodeType):
    type = "start"
    label = "Start"
    category = "flow"
    description = "Where every run begins. Its output is the run's input."
    has_input = False

    def run(self, config, ctx: NodeContext) -> NodeResult:
        return NodeResult(output=dict(ctx.scope["input"]))
