"""Small builders for API tests: format-v1 documents and saved workflows.

    graph = minimal_graph(name="Newsletter")          # start → out, input `topic` required
    graph = llm_graph()                               # start → write (llm) → out
    workflow = saved_workflow(personas["acme"], personas["alice"])

Every document here is valid unless its name says otherwise; a test changes
one thing with keyword arguments (top-level keys) and asserts on that."""
from __future__ import annotations

import copy
from typing import Any

from engine.format import FORMAT_V1

# The inputs every builder's workflow declares: `topic` is required, `count` optional.
INPUTS = {
    "type": "object",
    "properties": {"topic": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["topic"],
}


def document(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    """A format-v1 document with the shared inputs schema; `changes` add or replace top-level keys."""
    graph = {
        "format": FORMAT_V1,
        "name": "Minimal",
        "description": "",
        "inputs": copy.deepcopy(INPUTS),
        "nodes": nodes,
        "edges": edges,
    }
    graph.update(changes)
    return graph


def minimal_graph(**changes: Any) -> dict[str, Any]:
    """start → out; the run's output is the `topic` input."""
    return document(
        [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
            {"id": "out", "type": "output", "position": {"x": 200, "y": 0}, "config": {"value": "{{ input.topic }}"}},
        ],
        [{"source": "start", "target": "out"}],
        **changes,
    )


def llm_graph(**changes: Any) -> dict[str, Any]:
    """start → write (llm) → out; the run's output is the model's reply."""
    return document(
        [
            {"id": "start", "type": "start"},
            {"id": "write", "type": "llm", "name": "Writer", "config": {"prompt": "Write one line about {{ input.topic }}"}},
            {"id": "out", "type": "output", "config": {"value": "{{ nodes.write.output }}"}},
        ],
        [{"source": "start", "target": "write"}, {"source": "write", "target": "out"}],
        **changes,
    )


def invalid_graph() -> dict[str, Any]:
    """Two problems a canvas user makes: a node of an unknown type, and an edge to a deleted node."""
    graph = minimal_graph()
    graph["nodes"].append({"id": "mystery", "type": "teleport"})
    graph["edges"].append({"source": "out", "target": "ghost"})
    return graph


def saved_workflow(team, user, graph: dict[str, Any] | None = None, name: str | None = None):
    """A workflow saved the way the API saves one (version 1), for tests about something else."""
    from editor import services

    return services.create_workflow(team=team, user=user, graph=graph or minimal_graph(), name=name)
