"""The template gallery: format v1 documents shipped with the product, one
file per pattern; the file name is the template's slug.

The files are read once per process (they only change with a deploy); every
caller gets its own copy, so nobody can change the gallery for the next one."""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).parent


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Any], ...]:
    templates = []
    for path in sorted(DIRECTORY.glob("*.json")):
        graph = json.loads(path.read_text())
        templates.append({
            "slug": path.stem,
            "name": graph["name"],
            "description": graph.get("description", ""),
            "graph": graph,
            "example_input": example_input(graph),
            "node_count": sum(1 for node in graph.get("nodes", []) if node.get("type") != "note"),
            "node_types": sorted({node["type"] for node in graph.get("nodes", []) if node.get("type") != "note"}),
        })
    return tuple(templates)


def all_templates() -> list[dict[str, Any]]:
    """Every template, in slug order: slug, name, description, graph, example_input, node_count, node_types."""
    return copy.deepcopy(list(_load()))


def template(slug: str) -> dict[str, Any] | None:
    """One template by its slug, or None."""
    found = next((t for t in _load() if t["slug"] == slug), None)
    return copy.deepcopy(found)


def example_input(graph: dict[str, Any]) -> dict[str, Any]:
    """An input built from the schema's defaults, so a template runs as shipped."""
    props = (graph.get("inputs") or {}).get("properties", {})
    return {name: spec["default"] for name, spec in props.items() if "default" in spec}
