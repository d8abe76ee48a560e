/**
 * Positions for drawing. A document's own positions win; a document with
 * nodes lacking one is laid out top to bottom by dagre (loop back-edges left
 * out of the ranking, so a loop reads downwards).
 */
import { Graph, layout } from "@dagrejs/dagre";

import type { EdgeDoc, NodeDoc, Position, WorkflowDoc } from "./format";
import { edgeIdOf, sourcePortOf } from "./format";

export const NODE_WIDTH = 216;
export const NODE_HEIGHT = 72;
export const NOTE_WIDTH = 220;
export const NOTE_HEIGHT = 120;

export function sizeOf(node: NodeDoc, isNote: boolean): { width: number; height: number } {
  return {
    width: node.width ?? (isNote ? NOTE_WIDTH : NODE_WIDTH),
    height: node.height ?? (isNote ? NOTE_HEIGHT : NODE_HEIGHT),
  };
}

export function needsLayout(doc: WorkflowDoc): boolean {
  return doc.nodes.some((n) => !n.position);
}

const NOTE_GAP = 48;

/**
 * Top-left positions of every node, from dagre. Notes are not part of the
 * flow: they stack in a column left of it.
 */
export function layoutPositions(
  doc: WorkflowDoc,
  options: { backEdges?: ReadonlySet<string>; isNote?: (node: NodeDoc) => boolean; portOrder?: (node: NodeDoc) => string[] } = {},
): Map<string, Position> {
  const isNote = options.isNote ?? ((n: NodeDoc) => n.type === "note");
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 48, ranksep: 64, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  const flowNodes = doc.nodes.filter((n) => !isNote(n));
  for (const node of flowNodes) g.setNode(node.id, sizeOf(node, false));
  const forward = (doc.edges ?? []).filter((edge, index) => !options.backEdges?.has(edgeIdOf(edge, index)));
  forward.forEach((edge, index) => {
    if (g.hasNode(edge.source) && g.hasNode(edge.target)) g.setEdge(edge.source, edge.target, {}, `${index}`);
  });
  layout(g);
  const positions = new Map<string, Position>();
  for (const node of flowNodes) {
    const placed = g.node(node.id) as { x: number; y: number; width: number; height: number } | undefined;
    if (!placed) continue;
    // dagre gives centres; the canvas places nodes by their top-left corner.
    positions.set(node.id, { x: placed.x - placed.width / 2, y: placed.y - placed.height / 2 });
  }
  if (options.portOrder) orderBranchesByPort(flowNodes, forward, positions, options.portOrder);

  const left = Math.min(0, ...[...positions.values()].map((p) => p.x));
  let y = Math.min(0, ...[...positions.values()].map((p) => p.y));
  for (const note of doc.nodes.filter(isNote)) {
    const size = sizeOf(note, true);
    positions.set(note.id, { x: left - size.width - NOTE_GAP, y });
    y += size.height + NOTE_GAP / 2;
  }
  return positions;
}

/**
 * dagre knows nothing of ports, so a condition's `true` branch may land right
 * of its `false` one and the edges cross. Where a node's branches sit side by
 * side in one rank, each reached only from it, give them the slots in the
 * order of its ports (left to right, as the handles are drawn).
 */
function orderBranchesByPort(
  nodes: NodeDoc[],
  edges: EdgeDoc[],
  positions: Map<string, Position>,
  portOrder: (node: NodeDoc) => string[],
): void {
  const incoming = new Map<string, number>();
  for (const edge of edges) incoming.set(edge.target, (incoming.get(edge.target) ?? 0) + 1);
  for (const node of nodes) {
    const ports = portOrder(node);
    if (ports.length < 2) continue;
    const branches = edges
      .filter((e) => e.source === node.id && incoming.get(e.target) === 1 && positions.has(e.target))
      .map((e) => ({ target: e.target, rank: ports.indexOf(sourcePortOf(e)) }))
      .filter((b) => b.rank >= 0);
    if (branches.length < 2 || new Set(branches.map((b) => b.target)).size !== branches.length) continue;
    const ys = new Set(branches.map((b) => positions.get(b.target)!.y));
    if (ys.size !== 1) continue;
    const slots = branches.map((b) => positions.get(b.target)!.x).sort((a, b) => a - b);
    branches.sort((a, b) => a.rank - b.rank);
    branches.forEach((b, i) => positions.set(b.target, { ...positions.get(b.target)!, x: slots[i] }));
  }
}

/** Each node's drawing position: its own, or dagre's when the document lacks any. */
export function positionsOf(
  doc: WorkflowDoc,
  options: { backEdges?: ReadonlySet<string>; isNote?: (node: NodeDoc) => boolean; portOrder?: (node: NodeDoc) => string[] } = {},
): Map<string, Position> {
  if (!needsLayout(doc)) return new Map(doc.nodes.map((n) => [n.id, n.position as Position]));
  return layoutPositions(doc, options);
}
