"""Routing by an LLM classifier: "switch by classifier" as its own node type.

A `switch` routes by expressions and runs inline; a classifier waits on a
model, so it is a network (`is_io`) node — a class-level property of a node
type. One type per behaviour keeps both small and lets the palette say what
each does."""
from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from .. import llm, providers
from ..errors import NodeFailed
from .base import Config, NodeContext, NodeResult, NodeType, Usage
from .switch import case_ports

PORT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
# One repair turn gives a model a second chance to name a case; then the fallback.
MAX_REPAIRS = 1


class ClassifyCase(Config):
    port: str = Field(pattern=PORT_PATTERN, description="The case's name and the port it goes out through.")
    description: str = Field(min_length=1, description="What belongs in this case, in words the model reads.")


class ClassifyConfig(Config):
    input: str = Field(min_length=1, description="The text to classify, e.g. `{{ input.message }}`.", json_schema_extra={"x-template": True})
    cases: list[ClassifyCase] = Field(min_length=1, description="The cases the model chooses from.")
    fallback: str = Field(default="default", pattern=PORT_PATTERN, description="The port taken when no case fits or the model's answer is not a case.")
    instructions: str | None = Field(default=None, description="More guidance for the classifier; `{{ }}` templates.", json_schema_extra={"x-template": True})
    model: str | None = Field(default=None, description="Model name; empty uses the provider's default.")
    credential: str | None = Field(default=None, description="Name of a stored team credential; empty uses OPENAI_API_KEY, or the offline demo model without one.")

    @model_validator(mode="after")
    def _distinct_ports(self) -> "ClassifyConfig":
        ports = [case.port for case in self.cases]
        duplicates = sorted({p for p in ports if ports.count(p) > 1})
        if duplicates:
            raise ValueError(f"case ports must be unique; repeated: {', '.join(duplicates)}")
        if self.fallback in ports:
            raise ValueError(f"'{self.fallback}' is the fallback port; name the case something else or change `fallback`")
        return self


class ClassifyNode(NodeType):
    type = "classify"
    label = "Classify"
    category = "flow"
    description = "Routes by an LLM classification: the model picks one of the named cases; an answer that is not a case goes to the fallback port."
    Config = ClassifyConfig
    template_fields = ("input", "instructions")
    is_io = True

    @classmethod
    def dynamic_ports(cls) -> bool:
        return True

    @classmethod
    def output_ports(cls, config) -> list[str]:
        return case_ports(config) + [config.get("fallback") or "default"]

    def run(self, config, ctx):  # pragma: no cover - io nodes only run async
        raise NotImplementedError

    async def arun(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        fallback = config.get("fallback") or "default"
        cases = config["cases"]
        ports = [case["port"] for case in cases] + [fallback]
        schema = {
            "type": "object",
            "properties": {"case": {"type": "string", "enum": ports}, "reason": {"type": "string"}},
            "required": ["case", "reason"],
            "additionalProperties": False,
        }
        target = await providers.resolve(ctx.team_id, config.get("credential"), config.get("model"))
        try:
            completion = await llm.complete(target, _messages(config, fallback), json_schema=schema, max_repairs=MAX_REPAIRS, on_delta=ctx.emit_delta)
        except NodeFailed as exc:
            # Retryable failures (rate limits, timeouts) and refusals by the
            # endpoint carry the client's exception as their cause; only an
            # answer that stayed outside the schema has none, and routes.
            if exc.retryable or exc.__cause__ is not None:
                raise
            return NodeResult(output={"case": fallback, "reason": f"the model did not name a case: {exc.message}"}, ports=[fallback])
        answer = completion.value
        case = answer.get("case") if isinstance(answer, dict) else None
        if case not in ports:  # a schema guards this already; an endpoint that ignores it does not get past here
            case = fallback
        return NodeResult(
            output={"case": case, "reason": str(answer.get("reason", "")) if isinstance(answer, dict) else ""},
            ports=[case],
            usage=Usage(completion.tokens_in, completion.tokens_out, completion.cost_usd),
            model=completion.model,
            demo=completion.demo,
        )


def _messages(config: dict[str, Any], fallback: str) -> list[dict[str, str]]:
    lines = ["Classify the user's message into exactly one of these cases:"]
    lines += [f"- {case['port']}: {case['description']}" for case in config["cases"]]
    lines.append(f"- {fallback}: none of the above fits.")
    lines.append('Answer with the case name in "case" and one short sentence in "reason".')
    if config.get("instructions"):
        lines += ["", str(config["instructions"])]
    return [{"role": "system", "content": "\n".join(lines)}, {"role": "user", "content": str(config["input"])}]
