"""Parsing and validating a format-v1 document, and the structure the scheduler
reads: edges by node, back-edges, loop bodies, fan-out regions.

`validate(document)` is pure and returns every problem it finds, each naming
its node or edge and saying how to fix it. `Graph` is built only from a valid
document."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from pydantic import ValidationError

from . import templating
from .format import FORMAT_PREFIX, FORMAT_V1, NodeDoc, WorkflowDoc
from .nodes import NODE_TYPES, NodeType
from . import patterns


@dataclass(frozen=True)
class GraphError:
    code: str
    message: str
    node: str | None = None
    edge: int | None = None  # index into "edges"
    field: str | None = None
    severity: str = "error"  # "error" blocks saving a run; "warning" does not

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class InvalidWorkflow(Exception):
    def __init__(self, errors: list[GraphError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Edge:
    index: int
    source: str
    port: str
    target: str

    def label(self) -> str:
        port = "" if self.port == "out" else f".{self.port}"
        return f"{self.source}{port} → {self.target}"


@dataclass
class Graph:
    doc: WorkflowDoc
    nodes: dict[str, NodeDoc]
    types: dict[str, type[NodeType]]
    configs: dict[str, dict[str, Any]]  # validated config with defaults filled in
    edges: list[Edge]
    out_edges: dict[str, list[Edge]]
    in_edges: dict[str, list[Edge]]
    start: str
    back_edges: set[int] = field(default_factory=set)
    loop_body: dict[str, set[str]] = field(default_factory=dict)  # loop -> natural loop body
    fanout_join: dict[str, str] = field(default_factory=dict)
    join_fanout: dict[str, str] = field(default_factory=dict)
    region: dict[str, set[str]] = field(default_factory=dict)  # fanout -> nodes between it and its join
    home: dict[str, str | None] = field(default_factory=dict)  # node -> innermost enclosing fanout
    enclosing_loop: dict[str, str | None] = field(default_factory=dict)
    exit_loops: dict[int, list[str]] = field(default_factory=dict)  # edge -> loops it leaves, innermost first

    @property
    def edges_by_index(self) -> dict[int, Edge]:
        return {edge.index: edge for edge in self.edges}

    def node_type(self, node_id: str) -> type[NodeType]:
        return self.types[node_id]


# --------------------------------------------------------------------------- parsing


def _pydantic_errors(exc: ValidationError, raw: dict[str, Any]) -> list[GraphError]:
    errors = []
    for err in exc.errors():
        loc = err["loc"]
        node = None
        edge = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            nodes = raw.get("nodes") or []
            if loc[1] < len(nodes) and isinstance(nodes[loc[1]], dict):
                node = nodes[loc[1]].get("id")
        if len(loc) >= 2 and loc[0] == "edges" and isinstance(loc[1], int):
            edge = loc[1]
        where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = f"unknown key '{loc[-1]}'; remove it (format v1 has no such field)"
        elif err["type"] == "missing":
            message = "required field is missing"
        errors.append(GraphError("schema", f"{where}: {message}", node=node, edge=edge, field=where))
    return errors


def parse(raw: Any) -> tuple[WorkflowDoc | None, list[GraphError]]:
    if not isinstance(raw, dict):
        kind = {list: "an array", str: "a string", type(None): "null", bool: "a boolean", int: "a number", float: "a number"}.get(type(raw), type(raw).__name__)
        return None, [GraphError("format", f"a workflow must be a JSON object, not {kind}")]
    fmt = raw.get("format")
    if fmt is None:
        return None, [GraphError("format", f'format: missing; set "format": "{FORMAT_V1}"', field="format")]
    if fmt != FORMAT_V1:
        match = re.fullmatch(re.escape(FORMAT_PREFIX) + r"(\d+)", str(fmt))
        if match and int(match.group(1)) > 1:
            msg = f"format: '{fmt}' is newer than this server reads ({FORMAT_V1}); upgrade Orchestrator to open it"
        else:
            msg = f"format: '{fmt}' is not a workflow format this server knows; expected '{FORMAT_V1}'"
        return None, [GraphError("format", msg, field="format")]
    try:
        return WorkflowDoc.model_validate(raw), []
    except ValidationError as exc:
        return None, _pydantic_errors(exc, raw)


# --------------------------------------------------------------------------- validation


def validate(raw: Any) -> list[GraphError]:
    """Every problem in a document, errors and warnings; [] means valid."""
    doc, errors = parse(raw)
    if doc is None:
        return errors
    _, errors = analyse(doc)
    return errors


def load(raw: Any) -> Graph:
    """A Graph from a document, or InvalidWorkflow with the errors."""
    doc, errors = parse(raw)
    if doc is None:
        raise InvalidWorkflow(errors)
    graph, errors = analyse(doc)
    blocking = [e for e in errors if e.severity == "error"]
    if blocking or graph is None:
        raise InvalidWorkflow(blocking)
    return graph


@lru_cache(maxsize=256)
def _load_canonical(canonical: str) -> Graph:
    return load(json.loads(canonical))


def load_cached(raw: Any) -> Graph:
    """`load` for the engine: a workflow version is immutable and its runs
    share one analysed Graph (which nobody mutates after analysis)."""
    return _load_canonical(json.dumps(raw, sort_keys=True))


def analyse(doc: WorkflowDoc) -> tuple[Graph | None, list[GraphError]]:
    errors: list[GraphError] = []
    errors += _validate_inputs_schema(doc)
    nodes, types, configs = _validate_nodes(doc, errors)
    edges = _validate_edges(doc, nodes, types, configs, errors)
    start = _validate_start(nodes, types, errors)
    if any(e.severity == "error" for e in errors) or start is None:
        return None, errors

    out_edges: dict[str, list[Edge]] = {n: [] for n in nodes}
    in_edges: dict[str, list[Edge]] = {n: [] for n in nodes}
    for edge in edges:
        out_edges[edge.source].append(edge)
        in_edges[edge.target].append(edge)
    graph = Graph(doc, nodes, types, configs, edges, out_edges, in_edges, start)

    cycle_errors = _validate_cycles(graph)
    errors += cycle_errors
    if cycle_errors:
        return None, errors
    errors += _classify_back_edges(graph)
    errors += _validate_loops(graph)
    errors += _validate_fanouts(graph)
    if any(e.severity == "error" for e in errors):
        return None, errors
    _assign_homes(graph)
    errors += _validate_templates(graph)
    errors += _warn_unreachable(graph)
    if any(e.severity == "error" for e in errors):
        return None, errors
    return graph, errors


def _validate_inputs_schema(doc: WorkflowDoc) -> list[GraphError]:
    try:
        patterns.check_schema(doc.inputs)
    except jsonschema.SchemaError as exc:
        return [GraphError("inputs", f"inputs: not a valid JSON Schema: {exc.message}", field="inputs")]
    if doc.inputs.get("type", "object") != "object":
        return [GraphError("inputs", 'inputs: must describe an object ("type": "object") whose properties are the inputs', field="inputs")]
    return []


def _validate_nodes(doc: WorkflowDoc, errors: list[GraphError]):
    nodes: dict[str, NodeDoc] = {}
    types: dict[str, type[NodeType]] = {}
    configs: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for node in doc.nodes:
        if node.id in seen:
            errors.append(GraphError("duplicate_id", f"node '{node.id}': the id is used twice; give each node its own id", node=node.id))
            continue
        seen.add(node.id)
        node_type = NODE_TYPES.get(node.type)
        if node_type is None:
            known = ", ".join(sorted(NODE_TYPES))
            errors.append(GraphError("unknown_type", f"node '{node.id}': unknown node type '{node.type}'; use one of: {known}", node=node.id, field="type"))
            continue
        try:
            model = node_type.Config.model_validate(node.config)
        except ValidationError as exc:
            for err in exc.errors():
                where = "config" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
                msg = err["msg"]
                if err["type"] == "extra_forbidden":
                    msg = f"unknown key; a {node.type} node has no '{err['loc'][-1]}' setting"
                elif err["type"] == "missing":
                    msg = "required"
                errors.append(GraphError("config", f"node '{node.id}', {where}: {msg}", node=node.id, field=where))
            continue
        if not node_type.executable:
            continue  # notes live on the canvas only
        nodes[node.id] = node
        types[node.id] = node_type
        configs[node.id] = model.model_dump(by_alias=True)
    return nodes, types, configs


def _validate_edges(doc, nodes, types, configs, errors: list[GraphError]) -> list[Edge]:
    all_ids = {n.id: n for n in doc.nodes}
    edges: list[Edge] = []
    seen: set[tuple[str, str, str]] = set()
    for index, raw in enumerate(doc.edges):
        label = f"edge {index} ({raw.source} → {raw.target})"
        problem = None
        for end, node_id in (("source", raw.source), ("target", raw.target)):
            if node_id not in all_ids:
                problem = f"{label}: its {end} '{node_id}' is not a node in this workflow; remove the edge or add the node"
                break
            node_type = NODE_TYPES.get(all_ids[node_id].type)
            if node_type is not None and not node_type.executable:
                problem = f"{label}: '{node_id}' is a {node_type.label.lower()}; it lives on the canvas only and cannot be connected"
                break
        if problem is None and (raw.source not in nodes or raw.target not in nodes):
            continue  # the node itself is invalid and already reported
        if problem is None:
            ports = types[raw.source].output_ports(configs[raw.source])
            port = raw.source_port
            if port is None:
                if len(ports) == 1:
                    port = ports[0]
                else:
                    choices = " or ".join(f"'{p}'" for p in ports) or "nothing (it has no outputs)"
                    problem = f"{label}: '{raw.source}' has several outputs; set source_port to {choices}"
            elif port not in ports:
                choices = ", ".join(f"'{p}'" for p in ports) or "none"
                problem = f"{label}: '{raw.source}' has no output port '{port}'; its ports are {choices}"
        if problem is None and not types[raw.target].has_input:
            problem = f"{label}: '{raw.target}' ({types[raw.target].type}) takes no input; connect to another node"
        if problem is None and raw.target_port not in (None, "in"):
            problem = f"{label}: target_port '{raw.target_port}' does not exist; nodes have one input, 'in' (or leave it out)"
        if problem is None and raw.source == raw.target:
            problem = f"{label}: a node cannot connect to itself; loop through a loop node"
        if problem is None and (raw.source, port, raw.target) in seen:
            problem = f"{label}: the same connection appears twice; remove one"
        if problem:
            errors.append(GraphError("edge", problem, edge=index))
            continue
        seen.add((raw.source, port, raw.target))
        edges.append(Edge(index, raw.source, port, raw.target))
    return edges


def _validate_start(nodes, types, errors: list[GraphError]) -> str | None:
    starts = [n for n in nodes if types[n].has_input is False and types[n].type == "start"]
    if not starts:
        errors.append(GraphError("start", "the workflow has no start node; add one (every run begins there)"))
        return None
    if len(starts) > 1:
        for extra in starts[1:]:
            errors.append(GraphError("start", f"node '{extra}': a workflow has exactly one start node; remove this one", node=extra))
        return None
    return starts[0]


def _validate_cycles(graph: Graph) -> list[GraphError]:
    """Every cycle must pass through a loop node: without loop nodes the graph is acyclic."""
    succ = {
        n: [e.target for e in graph.out_edges[n] if not graph.types[e.target].fires_per_input]
        for n in graph.nodes
        if not graph.types[n].fires_per_input
    }
    errors = []
    for component in _strongly_connected(succ):
        if len(component) < 2:
            continue
        cycle = _cycle_in(component, succ)
        named = " → ".join(cycle + [cycle[0]])
        errors.append(
            GraphError(
                "cycle",
                f"cycle {named} does not pass through a loop node; add a loop node (with max_iterations) on it, or remove an edge",
                node=cycle[0],
            )
        )
    return errors


def _strongly_connected(succ: dict[str, list[str]]) -> list[list[str]]:
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for root in succ:
        if root in index_of:
            continue
        work = [(root, iter(succ[root]))]
        index_of[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index_of:
                    index_of[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index_of[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
    return result


def _cycle_in(component: list[str], succ: dict[str, list[str]]) -> list[str]:
    members = set(component)
    start = sorted(component)[0]
    path = [start]
    seen = {start}
    node = start
    while True:
        nxt = next(n for n in succ[node] if n in members)
        if nxt in seen:
            return path[path.index(nxt):]
        path.append(nxt)
        seen.add(nxt)
        node = nxt


def _classify_back_edges(graph: Graph) -> list[GraphError]:
    """Back-edges by depth-first search from start: an edge to a node on the
    current path. Every cycle passes through a loop, so they all end at loops."""
    on_path: set[str] = set()
    visited: set[str] = set()
    stack = [(graph.start, iter(graph.out_edges[graph.start]))]
    visited.add(graph.start)
    on_path.add(graph.start)
    while stack:
        node, edges = stack[-1]
        for edge in edges:
            if edge.target in on_path:
                graph.back_edges.add(edge.index)
            elif edge.target not in visited:
                visited.add(edge.target)
                on_path.add(edge.target)
                stack.append((edge.target, iter(graph.out_edges[edge.target])))
                break
        else:
            stack.pop()
            on_path.discard(node)
    return []


def _validate_loops(graph: Graph) -> list[GraphError]:
    errors = []
    for loop, node_type in graph.types.items():
        if not node_type.fires_per_input:
            continue
        incoming = graph.in_edges[loop]
        entries = [e for e in incoming if e.index not in graph.back_edges]
        backs = [e for e in incoming if e.index in graph.back_edges]
        if len(entries) > 1:
            names = ", ".join(e.source for e in entries)
            errors.append(GraphError("loop", f"loop '{loop}' is entered from {names}; a loop has one way in: put a merge node before it", node=loop))
        if not entries and incoming:
            errors.append(GraphError("loop", f"loop '{loop}' has no way in from the start; connect an edge into it from before the loop", node=loop))
        if not backs:
            errors.append(
                GraphError("loop", f"loop '{loop}' has no edge back to it, so its body runs once; connect the body's last node back to the loop", node=loop, severity="warning")
            )
        # The natural loop body: nodes on a path from the loop back to itself.
        ahead = _reachable(graph, loop, forward=True, stop=loop)
        behind: set[str] = set()
        for edge in backs:
            behind |= _reachable(graph, edge.source, forward=False, stop=loop) | {edge.source}
        body = ahead & behind
        graph.loop_body[loop] = body if backs else set()
        for node in sorted(body):
            for edge in graph.in_edges[node]:
                if edge.source != loop and edge.source not in body:
                    errors.append(
                        GraphError(
                            "loop_body",
                            f"edge {edge.label()} enters the body of loop '{loop}' from outside; a body runs once per "
                            f"iteration, so connect '{edge.source}' to the loop node instead (its value stays readable "
                            f"as nodes.{edge.source}.output)",
                            edge=edge.index,
                            node=node,
                        )
                    )
    for node in graph.nodes:
        containing = [loop for loop, body in graph.loop_body.items() if node in body]
        graph.enclosing_loop[node] = min(containing, key=lambda loop: len(graph.loop_body[loop]), default=None)
    # Edges that leave loop bodies: their signals wait for the loop to finish,
    # so what follows a loop runs once, after it, with its final values.
    for edge in graph.edges:
        exited = [
            loop
            for loop, body in graph.loop_body.items()
            if body and (edge.source in body or edge.source == loop) and edge.target not in body and edge.target != loop
        ]
        if exited:
            graph.exit_loops[edge.index] = sorted(exited, key=lambda loop: len(graph.loop_body[loop]))
    return errors


def _reachable(graph: Graph, start: str, *, forward: bool, stop: str) -> set[str]:
    """Nodes reachable from `start` (not including it), never passing through `stop`."""
    found: set[str] = set()
    frontier = [start]
    while frontier:
        current = frontier.pop()
        edges = graph.out_edges[current] if forward else graph.in_edges[current]
        for edge in edges:
            nxt = edge.target if forward else edge.source
            if nxt == stop or nxt in found:
                continue
            found.add(nxt)
            frontier.append(nxt)
    return found


def _validate_fanouts(graph: Graph) -> list[GraphError]:
    errors: list[GraphError] = []
    fanouts = [n for n, t in graph.types.items() if t.opens_fanout]
    resolving: set[str] = set()

    def match(fanout: str) -> str | None:
        if fanout in graph.fanout_join:
            return graph.fanout_join[fanout]
        if fanout in resolving:
            return None
        resolving.add(fanout)
        region: set[str] = set()
        joins: set[str] = set()
        frontier = [e.target for e in graph.out_edges[fanout]]
        while frontier:
            node = frontier.pop()
            if node in region or node == fanout:
                continue
            if graph.types[node].closes_fanout:
                joins.add(node)
                continue
            region.add(node)
            if graph.types[node].opens_fanout:
                inner = match(node)
                if inner is None:
                    continue
                region |= graph.region.get(node, set())
                region.add(inner)
                frontier += [e.target for e in graph.out_edges[inner]]
            else:
                frontier += [e.target for e in graph.out_edges[node]]
        resolving.discard(fanout)
        if not joins:
            errors.append(GraphError("fanout", f"fan-out '{fanout}' has no join; end each of its branches at a join node", node=fanout))
            return None
        if len(joins) > 1:
            names = ", ".join(sorted(joins))
            errors.append(GraphError("fanout", f"fan-out '{fanout}' reaches several joins ({names}); a fan-out closes at exactly one join", node=fanout))
            return None
        join = joins.pop()
        if join in graph.join_fanout:
            errors.append(GraphError("fanout", f"join '{join}' closes both '{graph.join_fanout[join]}' and '{fanout}'; give each fan-out its own join", node=join))
            return None
        graph.fanout_join[fanout] = join
        graph.join_fanout[join] = fanout
        graph.region[fanout] = region
        return join

    for fanout in fanouts:
        match(fanout)
    if errors:
        return errors

    for join, node_type in graph.types.items():
        if node_type.closes_fanout and join not in graph.join_fanout:
            errors.append(GraphError("fanout", f"join '{join}' closes no fan-out; put a fan-out node before the branches that lead to it", node=join))

    for fanout, region in graph.region.items():
        join = graph.fanout_join[fanout]
        reaches_join = _reaching(graph, join, region)
        for node in sorted(region - reaches_join):
            errors.append(
                GraphError(
                    "fanout_region",
                    f"node '{node}' is inside fan-out '{fanout}' but does not lead to its join '{join}': every branch must end at the join (edges may not leave a fan-out region)",
                    node=node,
                )
            )
        allowed_sources = region | {fanout}
        for node in region | {join}:
            for edge in graph.in_edges[node]:
                if edge.source not in allowed_sources:
                    errors.append(
                        GraphError(
                            "fanout_region",
                            f"edge {edge.label()} enters fan-out '{fanout}''s region from outside; only the fan-out node leads into its region",
                            edge=edge.index,
                            node=node,
                        )
                    )
        if fanout in region:
            errors.append(GraphError("fanout_region", f"fan-out '{fanout}' reaches itself before its join; a loop around a fan-out must enclose the join too", node=fanout))
    return errors


def _reaching(graph: Graph, target: str, within: set[str]) -> set[str]:
    """Nodes of `within` from which `target` can be reached inside `within`."""
    found: set[str] = set()
    frontier = [e.source for e in graph.in_edges[target]]
    while frontier:
        node = frontier.pop()
        if node in found or node not in within:
            continue
        found.add(node)
        frontier += [e.source for e in graph.in_edges[node]]
    return found


def _assign_homes(graph: Graph) -> None:
    for node in graph.nodes:
        containing = [f for f, region in graph.region.items() if node in region]
        graph.home[node] = min(containing, key=lambda f: len(graph.region[f]), default=None)


def fanout_chain(graph: Graph, node: str) -> list[str]:
    """The fan-outs enclosing a node, outermost first."""
    chain = []
    current = graph.home.get(node)
    while current is not None:
        chain.append(current)
        current = graph.home.get(current)
    return list(reversed(chain))


def _ancestors(graph: Graph, node: str) -> set[str]:
    found: set[str] = set()
    frontier = [e.source for e in graph.in_edges[node]]
    while frontier:
        current = frontier.pop()
        if current in found:
            continue
        found.add(current)
        frontier += [e.source for e in graph.in_edges[current]]
    return found


def _validate_templates(graph: Graph) -> list[GraphError]:
    with templating.sandbox.workflow_budget():
        return _check_templates(graph)


def _declared_inputs(graph: Graph) -> set[str] | None:
    """The inputs a run may have, when the inputs schema says: it names some
    (properties) and does not allow others (no additionalProperties: true), or
    says additionalProperties: false. None when any name may come — an inputs
    schema with no properties at all is read as "not described yet"."""
    schema = graph.doc.inputs if isinstance(graph.doc.inputs, dict) else {}
    properties = schema.get("properties")
    if not isinstance(properties, dict) or schema.get("additionalProperties") not in (None, False):
        return None
    if not properties and schema.get("additionalProperties") is not False:
        return None
    return set(properties)


def _check_templates(graph: Graph) -> list[GraphError]:
    errors = []
    declared = _declared_inputs(graph)
    for node_id, node_type in graph.types.items():
        ancestors = None
        for field_name, value, is_expression in node_type.templated_values(graph.nodes[node_id].config):
            problem = templating.check_syntax(value, expression=is_expression)
            if problem:
                errors.append(GraphError("template", f"node '{node_id}', field '{field_name}': {problem}", node=node_id, field=field_name))
                continue
            if declared is not None:
                for name in sorted(templating.name_references(value, "input", expression=is_expression) - declared):
                    known = ", ".join(sorted(declared)) or "none"
                    errors.append(GraphError(
                        "input_reference",
                        f"node '{node_id}', field '{field_name}': refers to input.{name}, but the workflow's inputs have no '{name}' (inputs: {known}); add it under Workflow → Inputs or fix the name",
                        node=node_id, field=field_name))
            for ref in sorted(templating.node_references(value, expression=is_expression)):
                if ancestors is None:
                    ancestors = _ancestors(graph, node_id)
                if ref not in graph.nodes:
                    errors.append(GraphError("reference", f"node '{node_id}', field '{field_name}': refers to nodes.{ref}, but there is no node '{ref}'", node=node_id, field=field_name))
                elif ref not in ancestors:
                    errors.append(
                        GraphError(
                            "reference",
                            f"node '{node_id}', field '{field_name}': refers to nodes.{ref}, which does not run before it; connect '{ref}' upstream of '{node_id}' or use another node",
                            node=node_id,
                            field=field_name,
                        )
                    )
                else:
                    ref_chain = fanout_chain(graph, ref)
                    own_chain = fanout_chain(graph, node_id)
                    if own_chain[: len(ref_chain)] != ref_chain:
                        inner = next(f for f in ref_chain if f not in own_chain)
                        errors.append(
                            GraphError(
                                "reference",
                                f"node '{node_id}', field '{field_name}': nodes.{ref} runs once per item of fan-out '{inner}'; outside that region use nodes.{graph.fanout_join[inner]}.output (the list of item results)",
                                node=node_id,
                                field=field_name,
                            )
                        )
    return errors


def _warn_unreachable(graph: Graph) -> list[GraphError]:
    reached = {graph.start}
    frontier = [graph.start]
    while frontier:
        node = frontier.pop()
        for edge in graph.out_edges[node]:
            if edge.target not in reached:
                reached.add(edge.target)
                frontier.append(edge.target)
    return [
        GraphError("unreachable", f"node '{n}' cannot be reached from the start node, so it never runs; connect it or delete it", node=n, severity="warning")
        for n in graph.nodes
        if n not in reached
    ]
