"""The node registry: every node type, listed once. The scheduler, the runner
and the API know node types only through this dict.

Network node types (`is_io`) reach the world through one module each: `llm`
and `classify` through engine/llm.py, `http` through engine/net.py."""
from __future__ import annotations

from .agent import AgentNode
from .base import NodeType
from .classify import ClassifyNode
from .condition import ConditionNode
from .fanout import FanoutNode
from .http import HttpNode
from .human import HumanNode
from .join import JoinNode
from .llm import LLMNode
from .loop import LoopNode
from .merge import MergeNode
from .note import NoteNode
from .output import OutputNode
from .remember import RememberNode
from .start import StartNode
from .subworkflow import SubworkflowNode
from .switch import SwitchNode
from .transform import TransformNode
from .validate import ValidateNode

NODE_TYPES: dict[str, type[NodeType]] = {
    cls.type: cls
    for cls in (
        StartNode,
        OutputNode,
        LLMNode,
        ConditionNode,
        SwitchNode,
        ClassifyNode,
        LoopNode,
        FanoutNode,
        JoinNode,
        MergeNode,
        TransformNode,
        HttpNode,
        ValidateNode,
        AgentNode,
        HumanNode,
        RememberNode,
        SubworkflowNode,
        NoteNode,
    )
}


def get(type_name: str) -> type[NodeType] | None:
    return NODE_TYPES.get(type_name)
