"""Workflow format v1: the one JSON document the canvas saves, the API accepts,
export writes and import reads. Unknown keys are errors; newer formats are refused."""
from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FORMAT_V1 = "orchestrator.workflow/v1"
FORMAT_PREFIX = "orchestrator.workflow/v"
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Bounds on one document, so that analysing it stays well under a second (README "Resource limits").
MAX_NODES = int(os.environ.get("WORKFLOW_MAX_NODES", "500"))
MAX_EDGES = int(os.environ.get("WORKFLOW_MAX_EDGES", "2000"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(_Strict):
    x: float = 0
    y: float = 0


class RetryPolicy(_Strict):
    max_attempts: int = Field(default=1, ge=1, le=10, description="Total attempts, the first included.")
    backoff_s: float = Field(default=1.0, ge=0, le=300, description="Wait before attempt 2; doubles each attempt.")


class Pin(_Strict):
    """A node's output fixed by hand, for debugging downstream nodes: the node does not run."""

    output: Any = None
    ports: list[str] | None = Field(default=None, description="The ports taken; empty: all of them.")


class NodeDoc(_Strict):
    id: str = Field(pattern=ID_PATTERN, max_length=100, description="Unique; templates refer to it as nodes.<id>.")
    type: str
    name: str | None = Field(default=None, max_length=200)
    position: Position | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0, le=86400, description="Per-attempt time limit.")
    retry: RetryPolicy | None = None
    cache: bool = Field(default=False, description="Reuse the output of an identical earlier step (same type, rendered config and model).")
    pin: Pin | None = None
    width: float | None = None
    height: float | None = None


class EdgeDoc(_Strict):
    id: str | None = None
    source: str
    source_port: str | None = None
    target: str
    target_port: str | None = None


class SettingsDoc(_Strict):
    max_steps: int = Field(default=1000, ge=1, le=100000)
    max_tokens: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, ge=0)
    timeout_s: float = Field(default=3600, gt=0, le=7 * 86400)


class WorkflowDoc(_Strict):
    format: str
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    inputs: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    settings: SettingsDoc = Field(default_factory=SettingsDoc)
    nodes: list[NodeDoc] = Field(max_length=MAX_NODES)
    edges: list[EdgeDoc] = Field(default_factory=list, max_length=MAX_EDGES)
