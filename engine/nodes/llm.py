from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .. import llm, providers
from .base import Config, NodeContext, NodeResult, NodeType, Usage


class LLMConfig(Config):
    prompt: str = Field(min_length=1, description="The user message; `{{ }}` templates.", json_schema_extra={"x-template": True})
    system: str | None = Field(default=None, description="Optional system message; `{{ }}` templates.", json_schema_extra={"x-template": True})
    model: str | None = Field(default=None, description="Model name; empty uses the provider's default.")
    credential: str | None = Field(default=None, description="Name of a stored team credential; empty uses OPENAI_API_KEY, or the offline demo model without one.")
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200000, description="Cap on the reply's tokens.")
    output: Literal["text", "json"] = Field(default="text", description="`json` parses the reply; with `json_schema` it is validated.")
    json_schema: dict[str, Any] | None = Field(default=None, description="JSON Schema the reply must match (structured outputs where supported).")
    max_repairs: int = Field(default=2, ge=0, le=5, description="How often an invalid JSON reply is sent back to the model with the error.")


class LLMNode(NodeType):
    type = "llm"
    label = "LLM"
    category = "ai"
    description = "Calls a chat model with a templated prompt and streams its reply; text or schema-checked JSON."
    Config = LLMConfig
    template_fields = ("prompt", "system")
    is_io = True

    def run(self, config, ctx):  # pragma: no cover - io nodes only run async
        raise NotImplementedError

    async def arun(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        target = await providers.resolve(ctx.team_id, config.get("credential"), config.get("model"))
        messages = []
        if config.get("system"):
            messages.append({"role": "system", "content": str(config["system"])})
        messages.append({"role": "user", "content": str(config["prompt"])})
        schema = config.get("json_schema")
        if config.get("output") == "json" and schema is None:
            schema = {}  # any JSON value
        completion = await llm.complete(
            target,
            messages,
            json_schema=schema,
            temperature=config.get("temperature"),
            max_tokens=config.get("max_tokens"),
            max_repairs=config.get("max_repairs", 2),
            on_delta=ctx.emit_delta,
        )
        return NodeResult(
            output=completion.value,
            usage=Usage(completion.tokens_in, completion.tokens_out, completion.cost_usd),
            model=completion.model,
            demo=completion.demo,
        )
