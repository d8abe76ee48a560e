from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Config, NodeContext, NodeResult, NodeType


class TransformConfig(Config):
    value: Any = Field(
        default=None,
        description="The value to compute: a template string (a whole `{{ expr }}` keeps its type), or JSON whose strings are templates.",
        json_schema_extra={"x-template": True},
    )
    set_var: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Also store the value as `vars.<name>` for every later node.",
    )


class TransformNode(NodeType):
    type = "transform"
    label = "Transform"
    category = "data"
    description = "Computes a value from templates (reshape data, set a variable). Runs instantly, no model call."
    Config = TransformConfig
    template_fields = ("value",)

    def run(self, config, ctx: NodeContext) -> NodeResult:
        value = config.get("value")
        name = config.get("set_var")
        return NodeResult(output=value, set_vars={name: value} if name else None)
