/**
 * The workflow drawn read-only with @xyflow/react, the run laid over it.
 * The xyflow node list is this component's graph state (what a later editor
 * will edit); run status reaches the nodes through RunOverlayContext.
 */
import {
  Background,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  applyNodeChanges,
  type NodeChange,
  type NodeTypes,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useState } from "react";

import type { WorkflowDoc } from "../graph/format";
import type { TypeIndex } from "../graph/nodeTypes";
import { toFlow, type FlowEdge, type FlowNode } from "../graph/toFlow";
import { edgeRunState } from "../run/overlay";
import type { NodeRun } from "../run/selectors";
import { GraphNode } from "./GraphNode";
import { NoteNode } from "./NoteNode";
import { RunOverlayContext, type RunOverlay } from "./RunOverlayContext";

// Module scope: a new object on each render would make xyflow remount every node.
const nodeTypes: NodeTypes = { step: GraphNode, note: NoteNode };

const STATUS_COLORS: Record<string, string> = {
  idle: "#cbd5e1",
  running: "#3b82f6",
  succeeded: "#22c55e",
  failed: "#ef4444",
  skipped: "#e2e8f0",
  cancelled: "#f59e0b",
};

interface Props {
  doc: WorkflowDoc;
  types: TypeIndex;
  nodeRuns: ReadonlyMap<string, NodeRun>;
  selected: string | null;
  runActive: boolean;
  onSelect: (nodeId: string) => void;
}

export function WorkflowGraph({ doc, types, nodeRuns, selected, runActive, onSelect }: Props) {
  const flow = useMemo(() => toFlow(doc, types), [doc, types]);
  const [nodes, setNodes] = useState<FlowNode[]>(flow.nodes);
  useEffect(() => setNodes(flow.nodes), [flow]);
  const onNodesChange = useCallback((changes: NodeChange<FlowNode>[]) => setNodes((current) => applyNodeChanges(changes, current)), []);

  const edges = useMemo(() => overlayEdges(flow.edges, nodeRuns, runActive), [flow.edges, nodeRuns, runActive]);
  const overlay = useMemo<RunOverlay>(() => ({ nodes: nodeRuns, selected, runActive, onSelect }), [nodeRuns, selected, runActive, onSelect]);
  const minimapColor = useCallback(
    (node: FlowNode) => (node.type === "note" ? "#fde68a" : STATUS_COLORS[nodeRuns.get(node.id)?.status ?? "idle"]),
    [nodeRuns],
  );

  return (
    <RunOverlayContext.Provider value={overlay}>
      <div className="graph" aria-label="Workflow graph" role="region">
        <ReactFlow<FlowNode, FlowEdge>
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onNodeClick={(_, node) => node.type === "step" && onSelect(node.id)}
          nodesDraggable={false}
          nodesConnectable={false}
          nodesFocusable={false}
          edgesFocusable={false}
          elementsSelectable={false}
          fitView
          fitViewOptions={{ padding: 0.2, maxZoom: 1.1 }}
          minZoom={0.2}
          maxZoom={2}
          defaultEdgeOptions={{ markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 } }}
        >
          <Background gap={20} size={1} color="#e2e8f0" />
          <MiniMap pannable zoomable nodeColor={minimapColor} nodeStrokeWidth={2} ariaLabel="Mini map of the workflow" style={{ width: 150, height: 100 }} position="top-right" />
          <Controls showInteractive={false} aria-label="Zoom controls" />
        </ReactFlow>
      </div>
    </RunOverlayContext.Provider>
  );
}

/** Edges coloured by the run: taken, not taken, feeding a running node; loop back-edges move while their loop runs. */
function overlayEdges(edges: FlowEdge[], nodeRuns: ReadonlyMap<string, NodeRun>, runActive: boolean): FlowEdge[] {
  if (!nodeRuns.size) return edges;
  return edges.map((edge) => {
    const state = edgeRunState(nodeRuns.get(edge.source), nodeRuns.get(edge.target), edge.data?.port ?? "out");
    const back = edge.data?.back ?? false;
    const loopRunning = back && runActive && (nodeRuns.get(edge.target)?.activations ?? 0) > 0;
    return {
      ...edge,
      className: [edge.className, `edge-${state}`].filter(Boolean).join(" "),
      animated: state === "active" || loopRunning,
    };
  });
}
