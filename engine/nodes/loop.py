from __future__ import annotations

from pydantic import Field

from .base import Config, NodeContext, NodeResult, NodeType


class LoopConfig(Config):
    max_iterations: int = Field(ge=1, le=1000, description="The cap: after this many iterations the loop goes out through `done`.")
    while_: str | None = Field(
        default=None,
        alias="while",
        description="Optional bare expression; the loop goes out through `done` as soon as it is false.",
        json_schema_extra={"x-expression": True},
    )


class LoopNode(NodeType):
    type = "loop"
    label = "Loop"
    category = "flow"
    description = (
        "Repeats its body: goes out through `next` on each of its first `max_iterations` firings "
        "(while `while` holds), then through `done`. Connect the body's end back to it."
    )
    Config = LoopConfig
    expression_fields = ("while",)
    fires_per_input = True

    @classmethod
    def output_ports(cls, config) -> list[str]:
        return ["next", "done"]

    def run(self, config, ctx: NodeContext) -> NodeResult:
        iteration = ctx.iteration
        if iteration > config["max_iterations"]:
            return NodeResult(output={"iteration": iteration - 1, "reason": "max_iterations"}, ports=["done"])
        condition = config.get("while")
        if condition and not ctx.evaluate("while", condition):
            return NodeResult(output={"iteration": iteration - 1, "reason": "while"}, ports=["done"])
        return NodeResult(output={"iteration": iteration}, ports=["next"])
