from __future__ import annotations

from pydantic import Field

from .base import Config, NodeType


class NoteConfig(Config):
    text: str = Field(default="", description="Markdown shown on the canvas.")
    color: str = Field(default="yellow", description="Sticky-note colour.")


class NoteNode(NodeType):
    type = "note"
    label = "Note"
    category = "canvas"
    description = "A sticky note on the canvas. It never runs and cannot be connected."
    Config = NoteConfig
    has_input = False
    executable = False

    @classmethod
    def output_ports(cls, config) -> list[str]:
        return []
