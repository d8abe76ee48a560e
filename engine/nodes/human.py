from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .base import Config, NodeContext, NodeResult, NodeType
from .. import patterns


class HumanConfig(Config):
    prompt: str = Field(min_length=1, description="What the person is asked; `{{ }}` templates (show them the draft to approve).",
                        json_schema_extra={"x-template": True})
    assignees: list[str] = Field(default_factory=list, description="Usernames who may answer; empty: any owner or editor of the team.")
    form: dict[str, Any] | None = Field(default=None, description="JSON Schema of the answer's fields (a form), if the person should type something.",
                                           json_schema_extra={"x-json-schema": True})
    allow_reject: bool = Field(default=True, description="Offer Reject as well as Approve.")
    timeout_s: float | None = Field(default=None, gt=0, le=30 * 86400, description="After this long unanswered, go out through `timeout`.")

    @field_validator("form")
    @classmethod
    def _form_is_a_schema(cls, form: dict[str, Any] | None) -> dict[str, Any] | None:
        if form is not None:
            import jsonschema

            try:
                patterns.check_schema(form)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from exc
        return form


class HumanNode(NodeType):
    """Pauses the run until a person answers. The engine parks the run (no
    worker waits) and resumes it when the answer arrives or the time is up;
    `run()` turns the recorded answer into the step's output and port."""

    type = "human"
    label = "Human"
    category = "flow"
    description = "Pauses the run until a team member approves, rejects or answers a form; a timeout goes out through `timeout`."
    Config = HumanConfig
    template_fields = ("prompt",)
    waits_for_person = True

    @classmethod
    def output_ports(cls, config) -> list[str]:
        return ["approved", "rejected", "timeout"]

    @classmethod
    def unhandled_ending(cls, output: Any, ports: list[str]) -> str | None:
        # A rejection (or silence) that leads nowhere ends the workflow short of
        # its goal: the run says so, instead of "succeeded" with no output.
        out = output if isinstance(output, dict) else {}
        if ports == ["rejected"]:
            comment = f" ({out['comment']})" if out.get("comment") else ""
            return f"rejected by {out.get('by') or 'a person'}{comment}; connect the `rejected` port to handle a rejection otherwise"
        if ports == ["timeout"]:
            return "nobody answered in time; connect the `timeout` port to handle that otherwise"
        return None

    def run(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        answer = ctx.answer or {}
        decision = answer.get("decision", "timeout")
        port = {"approve": "approved", "reject": "rejected"}.get(decision, "timeout")
        output = {"decision": port, "answer": answer.get("answer") or {}, "by": answer.get("by"), "at": answer.get("at"),
                  "comment": answer.get("comment", "")}
        return NodeResult(output=output, ports=[port])
