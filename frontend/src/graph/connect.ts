/**
 * Whether a new edge may be drawn, checked while the user drags it: the
 * canvas refuses it on the spot, with the reason. The server's validation
 * stays the one source of truth for a saved graph; these checks only catch,
 * early, the mistakes a drag makes (see engine/graph.py for the full rules).
 */
import { sourcePortOf, type WorkflowDoc } from "./format";
import { isCanvasOnly, outputPortsOf, roleOf, type TypeIndex } from "./nodeTypes";
import { enclosingFanouts, fanoutRegions } from "./structure";

export interface Proposed {
  source: string;
  port: string;
  target: string;
}

function successors(doc: WorkflowDoc): Map<string, string[]> {
  const out = new Map<string, string[]>(doc.nodes.map((n) => [n.id, []]));
  for (const e of doc.edges ?? []) out.get(e.source)?.push(e.target);
  return out;
}

/**
 * The cycle an edge source → target would close without passing through a
 * loop node (every cycle must pass through one), as the nodes from target
 * round to source; null when it closes no cycle, or only cycles through a loop.
 */
export function illegalCycle(doc: WorkflowDoc, types: TypeIndex, edge: Proposed): string[] | null {
  if (edge.source === edge.target) return [edge.source];
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  const isLoop = (id: string) => {
    const node = byId.get(id);
    return !!node && roleOf(types.get(node.type), node.type) === "loop";
  };
  if (isLoop(edge.source) || isLoop(edge.target)) return null;
  // Breadth-first from target to source, never through a loop node: the path found is the cycle.
  const succ = successors(doc);
  const parent = new Map<string, string | null>([[edge.target, null]]);
  const queue = [edge.target];
  while (queue.length) {
    const current = queue.shift()!;
    if (current === edge.source) {
      const path: string[] = [];
      for (let at: string | null = current; at != null; at = parent.get(at) ?? null) path.unshift(at);
      return path;
    }
    for (const next of succ.get(current) ?? []) {
      if (parent.has(next) || isLoop(next)) continue;
      parent.set(next, current);
      queue.push(next);
    }
  }
  return null;
}

/**
 * Why an edge may not cross a fan-out region's border, or null. Inside a
 * region, edges stay inside it; the way in is the fan-out node, the way out
 * is its join. A node with no edges yet may join any region.
 */
export function regionCrossing(doc: WorkflowDoc, types: TypeIndex, edge: Proposed): string | null {
  const regions = fanoutRegions(doc, types);
  const chains = enclosingFanouts(doc, regions);
  const source = doc.nodes.find((n) => n.id === edge.source);
  const target = doc.nodes.find((n) => n.id === edge.target);
  if (!source || !target) return null;
  const connected = (doc.edges ?? []).some((e) => e.target === target.id || e.source === target.id);
  if (!connected) return null;
  const cs = chains.get(source.id) ?? [];
  const ct = chains.get(target.id) ?? [];
  const sourceRole = roleOf(types.get(source.type), source.type);
  const targetRole = roleOf(types.get(target.type), target.type);
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const expected = [cs];
  if (sourceRole === "fanout") expected.push([...cs, source.id]);
  if (targetRole === "join" && cs.length) expected.push(cs.slice(0, -1));
  if (expected.some((chain) => same(chain, ct))) return null;
  const inner = cs[cs.length - 1];
  if (ct.length > cs.length || (sourceRole !== "fanout" && !cs.length)) {
    return `${target.id} is inside fan-out ${ct[ct.length - 1]}: connect into a fan-out region only through its fan-out node`;
  }
  return `${source.id} is inside fan-out ${inner}: leave a fan-out region only through its join`;
}

/** Why the edge cannot be drawn, or null when it can. */
export function connectionProblem(doc: WorkflowDoc, types: TypeIndex, edge: Proposed): string | null {
  const source = doc.nodes.find((n) => n.id === edge.source);
  const target = doc.nodes.find((n) => n.id === edge.target);
  if (!source || !target) return "connect two nodes of this workflow";
  const sourceDesc = types.get(source.type);
  const targetDesc = types.get(target.type);
  if (isCanvasOnly(sourceDesc, source.type) || isCanvasOnly(targetDesc, target.type)) return "notes do not connect";
  if (!outputPortsOf(source, sourceDesc).includes(edge.port)) return `${source.id} has no output port '${edge.port}'`;
  if (targetDesc && !targetDesc.has_input) return `${target.id} (${targetDesc.label}) takes no input`;
  if (source.id === target.id) return "a node cannot feed itself; put a loop node in between";
  if ((doc.edges ?? []).some((e) => e.source === edge.source && e.target === edge.target && sourcePortOf(e) === edge.port)) {
    return "these ports are already connected";
  }
  const cycle = illegalCycle(doc, types, edge);
  if (cycle) return `this closes the cycle ${[...cycle, cycle[0]].join(" → ")} without a loop node; every cycle needs a loop (with its cap)`;
  return regionCrossing(doc, types, edge);
}
