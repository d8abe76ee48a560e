"""The template gallery: format v1 documents shipped with the product."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).parent


def all_templates() -> list[dict[str, Any]]:
    templates = []
    for path in sorted(DIRECTORY.glob("*.json")):
        graph = json.loads(path.read_text())
        templates.append({"slug": path.stem, "name": graph["name"], "description": graph.get("description", ""), "graph": graph,
                          "example_input": example_input(graph)})
    return templates


def example_input(graph: dict[str, Any]) -> dict[str, Any]:
    """An input built from the schema's defaults, so a template runs as shipped."""
    props = (graph.get("inputs") or {}).get("properties", {})
    return {name: spec["default"] for name, spec in props.items() if "default" in spec}
