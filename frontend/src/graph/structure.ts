/**
 * Structure read off a workflow graph, without React: which edges close a
 * loop, and which nodes sit inside which fan-out region.
 */
import { edgeIdOf, type WorkflowDoc } from "./format";
import { roleOf, type TypeIndex } from "./nodeTypes";

interface Adjacent {
  target: string;
  edgeId: string;
}

function adjacency(doc: WorkflowDoc): Map<string, Adjacent[]> {
  const out = new Map<string, Adjacent[]>(doc.nodes.map((n) => [n.id, []]));
  (doc.edges ?? []).forEach((edge, index) => {
    out.get(edge.source)?.push({ target: edge.target, edgeId: edgeIdOf(edge, index) });
  });
  return out;
}

/** Roots for a walk: start nodes first, then nodes nothing points at, in document order. */
function roots(doc: WorkflowDoc): string[] {
  const targets = new Set((doc.edges ?? []).map((e) => e.target));
  const starts = doc.nodes.filter((n) => n.type === "start").map((n) => n.id);
  const free = doc.nodes.filter((n) => !targets.has(n.id) && n.type !== "start").map((n) => n.id);
  return [...starts, ...free, ...doc.nodes.map((n) => n.id)];
}

/**
 * The ids of edges that go back to a node still on the walk's path: a loop's
 * back-edges (every cycle passes through a loop node, so each one's closing
 * edge is found here). Depth-first from the start node, edges in document order.
 */
export function findBackEdges(doc: WorkflowDoc): Set<string> {
  const out = adjacency(doc);
  const state = new Map<string, "open" | "done">();
  const back = new Set<string>();
  for (const root of roots(doc)) {
    if (state.has(root)) continue;
    // An explicit stack keeps deep graphs off the call stack.
    const stack: { node: string; next: number }[] = [{ node: root, next: 0 }];
    state.set(root, "open");
    while (stack.length) {
      const top = stack[stack.length - 1];
      const edges = out.get(top.node) ?? [];
      if (top.next >= edges.length) {
        state.set(top.node, "done");
        stack.pop();
        continue;
      }
      const { target, edgeId } = edges[top.next++];
      const seen = state.get(target);
      if (seen === "open") back.add(edgeId);
      else if (seen === undefined && out.has(target)) {
        state.set(target, "open");
        stack.push({ node: target, next: 0 });
      }
    }
  }
  return back;
}

export interface FanoutRegion {
  fanout: string;
  /** The join that closes this fan-out, when one is reachable. */
  join: string | null;
  /** Nodes inside the region (nested fan-outs and their members included). */
  members: Set<string>;
}

/**
 * Each fan-out's region: the nodes reachable from it, before its own join.
 * Nested fan-outs are counted in and out so the right join closes each one.
 */
export function fanoutRegions(doc: WorkflowDoc, types: TypeIndex, backEdges = findBackEdges(doc)): Map<string, FanoutRegion> {
  const out = adjacency(doc);
  const role = new Map(doc.nodes.map((n) => [n.id, roleOf(types.get(n.type), n.type)]));
  const regions = new Map<string, FanoutRegion>();
  for (const node of doc.nodes) {
    if (role.get(node.id) !== "fanout") continue;
    const region: FanoutRegion = { fanout: node.id, join: null, members: new Set() };
    const seen = new Set<string>();
    const queue: { node: string; depth: number }[] = [{ node: node.id, depth: 0 }];
    while (queue.length) {
      const { node: current, depth } = queue.shift()!;
      for (const { target, edgeId } of out.get(current) ?? []) {
        if (backEdges.has(edgeId)) continue;
        let next = depth;
        const targetRole = role.get(target);
        if (targetRole === "join") {
          if (depth === 0) {
            region.join ??= target;
            continue;
          }
          next = depth - 1;
        } else if (targetRole === "fanout") {
          next = depth + 1;
        }
        const mark = `${target}@${next}`;
        if (seen.has(mark)) continue;
        seen.add(mark);
        region.members.add(target);
        queue.push({ node: target, depth: next });
      }
    }
    regions.set(node.id, region);
  }
  return regions;
}

/** For each node, the fan-outs it sits inside, outermost first. */
export function enclosingFanouts(doc: WorkflowDoc, regions: Map<string, FanoutRegion>): Map<string, string[]> {
  const result = new Map<string, string[]>(doc.nodes.map((n) => [n.id, []]));
  const order = doc.nodes.map((n) => n.id).filter((id) => regions.has(id));
  // Outer regions contain inner ones, so a larger region is further out.
  order.sort((a, b) => regions.get(b)!.members.size - regions.get(a)!.members.size);
  for (const fanout of order) {
    for (const member of regions.get(fanout)!.members) result.get(member)?.push(fanout);
  }
  return result;
}
