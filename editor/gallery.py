"""The template gallery page: a card per template with a preview of its graph
drawn server-side as inline SVG, and a button that makes a workflow of it.

`preview_svg` is a pure function of a format-v1 document (no engine, no
database), so the picture is cheap to draw and easy to test."""
from __future__ import annotations

from html import escape
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from . import access, services
from .api.templates import PATTERNS, use_template
from .models import Membership
from .workflow_templates import all_templates

BOX_W, BOX_H = 172, 40
PAD = 16
MAX_LABEL = 24


def _label(node: dict[str, Any]) -> str:
    text = node.get("name") or node.get("id", "")
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def back_edges(graph: dict[str, Any]) -> set[int]:
    """Indexes of the edges that close a cycle (the edges back to a loop),
    found by a depth-first walk from the start node."""
    out: dict[str, list[tuple[int, str]]] = {}
    for index, edge in enumerate(graph.get("edges", [])):
        out.setdefault(edge["source"], []).append((index, edge["target"]))
    start = next((n["id"] for n in graph.get("nodes", []) if n.get("type") == "start"), None)
    found: set[int] = set()
    if start is None:
        return found
    on_path, visited = {start}, {start}
    stack = [(start, iter(out.get(start, [])))]
    while stack:
        node, edges = stack[-1]
        for index, target in edges:
            if target in on_path:
                found.add(index)
            elif target not in visited:
                visited.add(target)
                on_path.add(target)
                stack.append((target, iter(out.get(target, []))))
                break
        else:
            stack.pop()
            on_path.discard(node)
    return found


def preview_svg(graph: dict[str, Any], *, title: str | None = None) -> str:
    """The graph as an SVG picture: a box per node at its position, a line per
    edge, dashed for edges back to a loop. Notes are left out (they explain;
    the card's text does that here)."""
    nodes = [n for n in graph.get("nodes", []) if n.get("type") != "note"]
    if not nodes:
        return '<svg class="graph-preview" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" role="img" aria-label="empty graph"></svg>'
    pos = {n["id"]: ((n.get("position") or {}).get("x", 0), (n.get("position") or {}).get("y", 0)) for n in nodes}
    min_x = min(x for x, _ in pos.values()) - PAD
    min_y = min(y for _, y in pos.values()) - PAD
    max_x = max(x for x, _ in pos.values()) + BOX_W + PAD
    max_y = max(y for _, y in pos.values()) + BOX_H + PAD
    loops = back_edges(graph)
    width, height = max_x - min_x, max_y - min_y
    label = escape(title or graph.get("name", "workflow"), quote=True)
    parts = [
        f'<svg class="graph-preview" xmlns="http://www.w3.org/2000/svg" viewBox="{min_x:g} {min_y:g} {width:g} {height:g}" '
        f'role="img" aria-label="Graph of {label}">',
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L8,4 L0,8 z" class="arrow"/></marker></defs>',
    ]
    for index, edge in enumerate(graph.get("edges", [])):
        if edge["source"] not in pos or edge["target"] not in pos:
            continue
        (sx, sy), (tx, ty) = pos[edge["source"]], pos[edge["target"]]
        port = escape(edge.get("source_port") or "", quote=True)
        if index in loops:
            # Out of the source's right side, round and into the loop's right side.
            x1, y1, x2, y2 = sx + BOX_W, sy + BOX_H / 2, tx + BOX_W, ty + BOX_H / 2
            bulge = max(x1, x2) + 60
            parts.append(f'<path class="edge back" data-port="{port}" d="M{x1:g},{y1:g} C{bulge:g},{y1:g} {bulge:g},{y2:g} {x2:g},{y2:g}" marker-end="url(#arrow)"/>')
        else:
            x1, y1, x2, y2 = sx + BOX_W / 2, sy + BOX_H, tx + BOX_W / 2, ty
            mid = (y1 + y2) / 2
            parts.append(f'<path class="edge" data-port="{port}" d="M{x1:g},{y1:g} C{x1:g},{mid:g} {x2:g},{mid:g} {x2:g},{y2:g}" marker-end="url(#arrow)"/>')
    for node in nodes:
        x, y = pos[node["id"]]
        kind = escape(node.get("type", ""), quote=True)
        name = escape(_label(node))
        parts.append(
            f'<g class="node {kind}" data-node="{escape(node["id"], quote=True)}">'
            f'<rect x="{x:g}" y="{y:g}" width="{BOX_W}" height="{BOX_H}" rx="8"/>'
            f'<text x="{x + BOX_W / 2:g}" y="{y + BOX_H / 2 + 5:g}" text-anchor="middle">{name}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _writable_teams(user):
    return access.teams_of(user).filter(memberships__user=user, memberships__role__in=access.WRITE_ROLES).order_by("name")


@login_required
def gallery(request):
    cards = [
        {
            "slug": t["slug"],
            "name": t["name"],
            "description": t["description"],
            "node_count": t["node_count"],
            "patterns": PATTERNS.get(t["slug"], []),
            "svg": preview_svg(t["graph"]),
            "has_loop": any(n["type"] == "loop" for n in t["graph"]["nodes"]),
            "parallel": any(n["type"] in ("fanout", "merge") for n in t["graph"]["nodes"]),
        }
        for t in all_templates()
    ]
    # The foundational patterns first, in the order a newcomer meets them.
    order = list(PATTERNS)
    cards.sort(key=lambda card: order.index(card["slug"]) if card["slug"] in order else len(order))
    teams = list(_writable_teams(request.user))
    return render(request, "template_gallery.html", {"cards": cards, "teams": teams, "personal_team": request.user.personal_team})


@login_required
@require_POST
def use(request, slug: str):
    team = request.POST.get("team", "")
    try:
        workflow = use_template(request.user, slug, team_id=int(team) if team.isdigit() else None)
    except (APIException, services.ServiceError) as exc:
        detail = getattr(exc, "detail", None) or getattr(exc, "message", str(exc))
        messages.error(request, f"Could not create a workflow from '{slug}': {detail}")
        return redirect("template-gallery")
    return redirect("workflow", pk=workflow.pk)
