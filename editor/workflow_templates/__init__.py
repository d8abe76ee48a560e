"""The template gallery: format v1 documents shipped with the product, one
file per pattern; the file name is the template's slug.

The files are read once per process (they only change with a deploy); every
caller gets its own copy, so nobody can change the gallery for the next one.

A template cannot know the id a workflow will get in someone's team, so where
it calls another template (a `subworkflow` node) it says
`{"$template": "<slug>"}` instead of an id. The gallery's documents keep that
reference; `resolve_references` turns it into the id of that template's
workflow in a given team — made from the template first when the team has none
— before a workflow is created from the template."""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).parent
REFERENCE = "$template"


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


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {REFERENCE} and isinstance(value[REFERENCE], str)


def references(value: Any) -> list[str]:
    """The slugs a template document refers to, in document order, each once."""
    found: list[str] = []
    if is_reference(value):
        found.append(value[REFERENCE])
    elif isinstance(value, dict):
        for item in value.values():
            found += [slug for slug in references(item) if slug not in found]
    elif isinstance(value, list):
        for item in value:
            found += [slug for slug in references(item) if slug not in found]
    return found


def with_ids(value: Any, ids: dict[str, int]) -> Any:
    """A copy of `value` with every `{"$template": slug}` replaced by `ids[slug]` (pure)."""
    if is_reference(value):
        return ids[value[REFERENCE]]
    if isinstance(value, dict):
        return {key: with_ids(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [with_ids(item, ids) for item in value]
    return value


def resolve_references(graph: dict[str, Any], *, team, user, calling: tuple[str, ...] = ()) -> dict[str, Any]:
    """`graph` with its template references replaced by workflow ids of `team`.

    A referenced template's workflow is reused when the team already has one
    made from it (same `template_slug`, the oldest), else created from the
    template — its own references resolved first. Raises ServiceError for an
    unknown slug or templates that refer to each other in a circle."""
    from editor import services
    from editor.models import Workflow

    ids: dict[str, int] = {}
    for slug in references(graph):
        if slug in calling:
            raise services.ServiceError(f"templates refer to each other in a circle: {' → '.join(calling + (slug,))}")
        existing = Workflow.objects.filter(team=team, template_slug=slug).order_by("pk").first()
        if existing is None:
            found = template(slug)
            if found is None:
                raise services.ServiceError(f"this template calls the template '{slug}', which the gallery does not have")
            sub_graph = resolve_references(found["graph"], team=team, user=user, calling=calling + (slug,))
            existing = services.create_workflow(team=team, user=user, graph=sub_graph, template_slug=slug,
                                                message=f"From the template gallery ({slug}), called by another template")
        ids[slug] = existing.pk
    return with_ids(graph, ids)
