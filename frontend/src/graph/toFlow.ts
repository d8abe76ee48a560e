/**
 * A format v1 document as @xyflow/react nodes and edges, with everything the
 * drawing needs precomputed: ports, structural roles, loop back-edges and
 * fan-out membership. Pure: the run overlay is applied separately.
 */
import type { Edge, Node } from "@xyflow/react";

import { DEFAULT_PORT, edgeIdOf, sourcePortOf, type NodeDoc, type WorkflowDoc } from "./format";
import { isCanvasOnly, outputPortsOf, roleOf, type NodeTypeDescription, type StructuralRole, type TypeIndex } from "./nodeTypes";
import { positionsOf, sizeOf } from "./layout";
import { enclosingFanouts, fanoutRegions, findBackEdges } from "./structure";

/** The handle id of a node's ordinary input. */
export const INPUT_HANDLE = "in";
/** The handle id loop back-edges arrive at (the node's left side). */
export const BACK_HANDLE = "back";

export type StepNodeData = {
  node: NodeDoc;
  desc: NodeTypeDescription | undefined;
  ports: string[];
  hasInput: boolean;
  role: StructuralRole;
  /** Fan-outs this node sits inside, outermost first. */
  fanouts: string[];
  /** Receives at least one loop back-edge. */
  loopTarget: boolean;
};

export type NoteNodeData = {
  node: NodeDoc;
  text: string;
  color: string;
};

export type StepFlowNode = Node<StepNodeData, "step">;
export type NoteFlowNode = Node<NoteNodeData, "note">;
export type FlowNode = StepFlowNode | NoteFlowNode;

export type FlowEdgeData = {
  port: string;
  back: boolean;
};
export type FlowEdge = Edge<FlowEdgeData>;

export interface FlowGraph {
  nodes: FlowNode[];
  edges: FlowEdge[];
  backEdges: Set<string>;
}

export function toFlow(doc: WorkflowDoc, types: TypeIndex, options: { editable?: boolean } = {}): FlowGraph {
  const editable = options.editable ?? false;
  const backEdges = findBackEdges(doc);
  const positions = positionsOf(doc, {
    backEdges,
    isNote: (n) => isCanvasOnly(types.get(n.type), n.type),
    portOrder: (n) => outputPortsOf(n, types.get(n.type)),
  });
  const enclosing = enclosingFanouts(doc, fanoutRegions(doc, types, backEdges));
  const edgesDoc = doc.edges ?? [];
  const loopTargets = new Set(edgesDoc.filter((e, i) => backEdges.has(edgeIdOf(e, i))).map((e) => e.target));

  const nodes: FlowNode[] = doc.nodes.map((node) => {
    const desc = types.get(node.type);
    const position = positions.get(node.id) ?? { x: 0, y: 0 };
    if (isCanvasOnly(desc, node.type)) {
      const config = node.config ?? {};
      return {
        id: node.id,
        type: "note",
        position,
        style: sizeOf(node, true),
        data: { node, text: String(config.text ?? ""), color: String(config.color ?? "yellow") },
        selectable: editable,
        connectable: false,
        zIndex: -1,
      } satisfies NoteFlowNode;
    }
    return {
      id: node.id,
      type: "step",
      position,
      data: {
        node,
        desc,
        ports: outputPortsOf(node, desc),
        hasInput: desc?.has_input ?? true,
        role: roleOf(desc, node.type),
        fanouts: enclosing.get(node.id) ?? [],
        loopTarget: loopTargets.has(node.id),
      },
      connectable: editable,
    } satisfies StepFlowNode;
  });

  // Edges from several ports of one node to the same target run side by side
  // and their labels would print over each other: the first carries them all.
  const sharedLabels = new Map<string, string[]>();
  for (const edge of edgesDoc) {
    const port = sourcePortOf(edge);
    if (port === DEFAULT_PORT) continue;
    const pair = `${edge.source}\u0000${edge.target}`;
    sharedLabels.set(pair, [...(sharedLabels.get(pair) ?? []), port]);
  }
  const labelled = new Set<string>();
  const labelOf = (edge: (typeof edgesDoc)[number], port: string): string | undefined => {
    if (port === DEFAULT_PORT) return undefined;
    const pair = `${edge.source}\u0000${edge.target}`;
    if (labelled.has(pair)) return undefined;
    labelled.add(pair);
    return sharedLabels.get(pair)!.join(" · ");
  };

  const edges: FlowEdge[] = edgesDoc.map((edge, index) => {
    const id = edgeIdOf(edge, index);
    const port = sourcePortOf(edge);
    const back = backEdges.has(id);
    return {
      id,
      source: edge.source,
      target: edge.target,
      sourceHandle: port,
      targetHandle: back ? BACK_HANDLE : INPUT_HANDLE,
      type: back ? "smoothstep" : "default",
      label: labelOf(edge, port),
      className: back ? "edge-back" : undefined,
      data: { port, back },
    };
  });

  return { nodes, edges, backEdges };
}
