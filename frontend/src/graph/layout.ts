/**
 * Positions for drawing. A document's own positions win; a document with
 * nodes lacking one is laid out top to bottom by dagre (loop back-edges left
 * out of the ranking, so a loop reads downwards).
 */
import { Graph, layout } from "@dagrejs/dagre";

import type { NodeDoc, Position, WorkflowDoc } from "./format";
import { edgeIdOf } from "./format";

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

/** Top-left positions of every node, from dagre. */
export function layoutPositions(
  doc: WorkflowDoc,
  options: { backEdges?: ReadonlySet<string>; isNote?: (node: NodeDoc) => boolean } = {},
): Map<string, Position> {
  const isNote = options.isNote ?? ((n: NodeDoc) => n.type === "note");
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 48, ranksep: 64, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of doc.nodes) g.setNode(node.id, sizeOf(node, isNote(node)));
  (doc.edges ?? []).forEach((edge, index) => {
    const id = edgeIdOf(edge, index);
    if (options.backEdges?.has(id) || !g.hasNode(edge.source) || !g.hasNode(edge.target)) return;
    g.setEdge(edge.source, edge.target, {}, id);
  });
  layout(g);
  const positions = new Map<string, Position>();
  for (const node of doc.nodes) {
    const placed = g.node(node.id) as { x: number; y: number; width: number; height: number } | undefined;
    if (!placed) continue;
    // dagre gives centres; the canvas places nodes by their top-left corner.
    positions.set(node.id, { x: placed.x - placed.width / 2, y: placed.y - placed.height / 2 });
  }
  return positions;
}

/** Each node's drawing position: its own, or dagre's when the document lacks any. */
export function positionsOf(doc: WorkflowDoc, backEdges?: ReadonlySet<string>): Map<string, Position> {
  if (!needsLayout(doc)) return new Map(doc.nodes.map((n) => [n.id, n.position as Position]));
  return layoutPositions(doc, { backEdges });
}
