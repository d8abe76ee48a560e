from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Config, NodeContext, NodeResult, NodeType


class RememberConfig(Config):
    state: dict[str, Any] = Field(default_factory=dict, description="Keys merged into conversation.state (JSON whose strings are templates).",
                                  json_schema_extra={"x-template": True})
    summary: str | None = Field(default=None, description="Replaces conversation.summary (a template), e.g. a summarizer's output.",
                                json_schema_extra={"x-template": True})
    keep_last: int | None = Field(default=None, ge=0, le=1000, description="After this turn, keep only the last N messages of the history (what a summary replaced).")


class RememberNode(NodeType):
    """Updates the conversation this run belongs to. The change is applied when
    the run succeeds (from the recorded step, so a resumed run applies it once)."""

    type = "remember"
    label = "Remember"
    category = "data"
    description = "Updates the conversation: merges keys into its state, replaces its summary, trims its history."
    Config = RememberConfig
    template_fields = ("state", "summary")
    updates_conversation = True

    def run(self, config: dict[str, Any], ctx: NodeContext) -> NodeResult:
        update = {"state": config.get("state") or {}, "summary": config.get("summary"), "keep_last": config.get("keep_last")}
        return NodeResult(output=update)
