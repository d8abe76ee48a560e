from __future__ import annotations

import json
import re
from typing import Any, Literal

import jsonschema
from pydantic import Field

from .. import llm, providers
from ..errors import NodeFailed
from .base import Config, NodeContext, NodeResult, NodeType, Usage
from .. import patterns

SCRIPTED_MODEL = "scripted"
DEFAULT_SCRIPT_PICK = "{{ index if index is defined else ((loop.iteration - 1) if loop is defined else 0) }}"


class LLMConfig(Config):
    prompt: str = Field(min_length=1, description="The user message; `{{ }}` templates.", json_schema_extra={"x-template": True})
    system: str | None = Field(default=None, description="Optional system message; `{{ }}` templates.", json_schema_extra={"x-template": True})
    model: str | None = Field(default=None, description="Model name; empty uses the provider's default.")
    credential: str | None = Field(default=None, description="Name of a stored team credential; empty uses OPENAI_API_KEY, or the offline demo model without one.")
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200000, description="Cap on the reply's tokens.")
    output: Literal["text", "json"] = Field(default="text", description="`json` parses the reply; with `json_schema` it is validated.")
    json_schema: dict[str, Any] | None = Field(default=None, description="JSON Schema the reply must match (structured outputs where supported).",
                                                  json_schema_extra={"x-json-schema": True})
    max_repairs: int = Field(default=2, ge=0, le=5, description="How often an invalid JSON reply is sent back to the model with the error.")
    script: list[Any] = Field(
        default_factory=list,
        description="Canned replies (a scripted model): when set, the node answers script[pick % length] without calling a model, "
        "at no cost. Text for text output, JSON values (or JSON text) for json output; strings are `{{ }}` templates.",
        json_schema_extra={"x-template": True},
    )
    script_pick: str = Field(
        default=DEFAULT_SCRIPT_PICK,
        description="Which scripted reply to give, as a whole number: by default the fan-out `index`, else the loop iteration (from 0), else 0.",
        json_schema_extra={"x-template": True},
    )


class LLMNode(NodeType):
    type = "llm"
    label = "LLM"
    category = "ai"
    description = "Calls a chat model with a templated prompt and streams its reply; text or schema-checked JSON."
    Config = LLMConfig
    # The pick is rendered by the engine with the rest, so a worker that gets
    # only the rendered config still answers the right item's reply.
    template_fields = ("prompt", "system", "script", "script_pick")
    is_io = True

    def run(self, config, ctx):  # pragma: no cover - io nodes only run async
        raise NotImplementedError

    async def arun(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        if config.get("script"):
            return _scripted(config, ctx)
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


def _scripted(config: dict[str, Any], ctx: NodeContext) -> NodeResult:
    """The scripted model: a canned reply, streamed like a model's, checked like one, free."""
    script = config["script"]
    raw_pick = config.get("script_pick", 0)
    try:
        pick = int(str(raw_pick).strip()) if not isinstance(raw_pick, int) else raw_pick
    except ValueError:
        raise NodeFailed(f"script_pick rendered to {raw_pick!r}, not a whole number; make it e.g. `{{{{ index }}}}`") from None
    index = pick % len(script)
    reply = script[index]
    if config.get("output") == "json":
        value = reply
        if isinstance(reply, str):
            try:
                value = json.loads(reply)
            except json.JSONDecodeError:
                value = reply  # a plain string is a JSON value too; the schema decides
        schema = config.get("json_schema")
        if schema is not None:
            error = jsonschema.exceptions.best_match(patterns.validator(schema).iter_errors(value))
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                raise NodeFailed(f"scripted reply {index} does not match json_schema at {where}: {error.message}; fix the script or the schema")
        text = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
    else:
        value = text = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
    for piece in re.findall(r"\S+\s*|\s+", text):
        ctx.emit_delta(piece)
    return NodeResult(output=value, usage=Usage(), model=SCRIPTED_MODEL, demo=False)
