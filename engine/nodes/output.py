from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Config, NodeContext, NodeResult, NodeType


class OutputConfig(Config):
    value: Any = Field(
        default=None,
        description="The run's output: a template string, or any JSON whose strings are templates.",
        json_schema_extra={"x-template": True},
    )


class OutputNode(NodeType):
    type = "output"
    label = "Output"
    category = "flow"
    description = "Sets the run's output. When several outputs are reached, the run's output is keyed by node id."
    Config = OutputConfig
    template_fields = ("value",)
    sets_run_output = True

    @classmethod
    def output_ports(cls, config) -> list[str]:
        return []

    def run(self, config, ctx: NodeContext) -> NodeResult:
        return NodeResult(output=config.get("value"))
