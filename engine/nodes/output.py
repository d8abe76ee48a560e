from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import Config, NodeContext, NodeResult, NodeType


class OutputConfig(Config):
    value: Any = Field(
        default=None,
        description="The run's output: a template string, or any JSON whose strings are templates.",
        json_schema_extra={"x-template": True},
    )
    # A workflow's own way of saying "this ending is a failure" (a rejected
    # approval, an escalation nobody answered): the run's status says so,
    # instead of a green "succeeded" with the bad news inside the output.
    outcome: Literal["succeeded", "failed"] = Field(
        default="succeeded",
        description="How the run ends when it reaches this output: failed makes the run's status failed (the output is kept), "
                    "for endings such as a rejected approval.",
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
