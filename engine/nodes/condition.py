from __future__ import annotations

from pydantic import Field

from .base import Config, NodeContext, NodeResult, NodeType


class ConditionConfig(Config):
    expression: str = Field(
        min_length=1,
        description="A bare expression (no braces), e.g. `nodes.evaluate.output.strip() == 'APPROVED'`.",
        json_schema_extra={"x-expression": True},
    )


class ConditionNode(NodeType):
    type = "condition"
    label = "Condition"
    category = "flow"
    description = "Takes the `true` or the `false` branch by an expression."
    Config = ConditionConfig
    expression_fields = ("expression",)

    @classmethod
    def output_ports(cls, config) -> list[str]:
        return ["true", "false"]

    def run(self, config, ctx: NodeContext) -> NodeResult:
        value = bool(ctx.evaluate("expression", config["expression"]))
        return NodeResult(output=value, ports=["true" if value else "false"])
