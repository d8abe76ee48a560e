/**
 * The editable canvas: the workflow drawn from its document, with nodes to
 * drag, ports to connect (refused on the spot when the edge would be
 * invalid), box selection, drops from the palette (onto an edge: inserted
 * into it), and the run drawn on top. Every change is reported as an edit of
 * the document; the canvas keeps only transient state (a drag in progress).
 */
import {
  Background,
  ControlButton,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  SelectionMode,
  applyNodeChanges,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type FinalConnectionState,
  type IsValidConnection,
  type NodeChange,
  type NodeTypes,
  type Viewport,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";

import { connectionProblem } from "../graph/connect";
import type { Position, WorkflowDoc } from "../graph/format";
import type { TypeIndex } from "../graph/nodeTypes";
import { toFlow, type FlowEdge, type FlowNode } from "../graph/toFlow";
import { edgeRunState } from "../run/overlay";
import type { NodeRun } from "../run/selectors";
import { FanoutRegions } from "./FanoutRegions";
import { GraphNode } from "./GraphNode";
import { NodePicker } from "./NodePicker";
import { NoteNode } from "./NoteNode";
import { RunOverlayContext, type RunOverlay } from "./RunOverlayContext";

// Module scope: a new object on each render would make xyflow remount every node.
const nodeTypes: NodeTypes = { step: GraphNode, note: NoteNode };

export const PALETTE_MIME = "application/x-orchestrator-node-type";

const STATUS_COLORS: Record<string, string> = {
  idle: "#cbd5e1",
  running: "#3b82f6",
  succeeded: "#22c55e",
  failed: "#ef4444",
  skipped: "#e2e8f0",
  cancelled: "#f59e0b",
};

export interface CanvasApi {
  fitView: () => void;
  /** The flow position at the middle of the visible canvas (keyboard adds land here). */
  center: () => Position;
  /** The flow position under the mouse while it is over the canvas, else null (pastes land there). */
  pointer: () => Position | null;
  /** Centre the view on a node (the finder), zooming in to at least 100%. */
  centerOn: (id: string) => void;
  /** Fit these nodes in view (zoom to the selection). */
  zoomTo: (ids: readonly string[]) => void;
}

interface Props {
  doc: WorkflowDoc;
  types: TypeIndex;
  editable: boolean;
  nodeRuns: ReadonlyMap<string, NodeRun>;
  runActive: boolean;
  selection: ReadonlySet<string>;
  problems: ReadonlyMap<string, string[]>;
  warnings?: ReadonlyMap<string, string[]>;
  edgeProblems: ReadonlyMap<number, string>;
  marks: ReadonlyMap<string, "added" | "changed">;
  onSelectionChange: (ids: Set<string>, edges: Set<number>) => void;
  onOpenNode: (id: string) => void;
  onMove: (positions: Map<string, Position>) => void;
  onConnect: (source: string, port: string, target: string) => void;
  onDrop: (type: string, position: Position, edgeIndex: number | null) => void;
  /** A node picked where a dragged edge was dropped on empty canvas: add it there, connected from `source`'s `port`. */
  onAddConnected: (type: string, position: Position, source: string, port: string) => void;
  onRename: (id: string, name: string) => void;
  onRefused: (reason: string) => void;
  apiRef: React.MutableRefObject<CanvasApi | null>;
}

function edgeIndexOf(id: string): number | null {
  const m = /^e(\d+):/.exec(id);
  return m ? Number(m[1]) : null;
}

export function EditorCanvas(props: Props) {
  const { doc, types, editable, nodeRuns, runActive, selection, problems, edgeProblems, marks } = props;
  const flow = useMemo(() => toFlow(doc, types, { editable }), [doc, types, editable]);
  const [nodes, setNodes] = useState<FlowNode[]>(flow.nodes);
  const selectionRef = useRef(selection);
  selectionRef.current = selection;
  useEffect(() => setNodes(flow.nodes.map((n) => (selectionRef.current.has(n.id) ? { ...n, selected: true } : n))), [flow]);
  useEffect(() => setNodes((current) => current.map((n) => (n.selected === selection.has(n.id) ? n : { ...n, selected: selection.has(n.id) }))), [selection]);
  const [selectedEdges, setSelectedEdges] = useState<Set<string>>(new Set());
  const { screenToFlowPosition, fitView, getViewport, getInternalNode, setCenter } = useReactFlow();
  // The mouse over the canvas, in screen pixels: where a paste lands.
  const mouse = useRef<{ x: number; y: number } | null>(null);
  // The node picker, open where a dragged edge was dropped on empty canvas.
  const [picker, setPicker] = useState<{ at: { x: number; y: number }; flow: Position; source: string; port: string } | null>(null);
  const wrapper = useRef<HTMLDivElement>(null);
  // Fit a workflow into view when it opens; an empty canvas keeps its origin, so the
  // first node dropped on it stays where it was dropped.
  const [fitOnOpen] = useState(doc.nodes.length > 0);

  props.apiRef.current = {
    fitView: () => void fitView({ padding: 0.2, maxZoom: 1.1, duration: 200 }),
    center: () => {
      const box = wrapper.current?.getBoundingClientRect();
      return box ? screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 2 }) : { x: 0, y: 0 };
    },
    pointer: () => (mouse.current ? screenToFlowPosition(mouse.current) : null),
    centerOn: (id) => {
      const node = getInternalNode(id);
      if (!node) return;
      const { x, y } = node.internals.positionAbsolute;
      void setCenter(x + (node.measured.width ?? 216) / 2, y + (node.measured.height ?? 72) / 2, { zoom: Math.max(getViewport().zoom, 1), duration: 250 });
    },
    zoomTo: (ids) => void fitView({ nodes: ids.map((id) => ({ id })), padding: 0.35, maxZoom: 1.5, duration: 250 }),
  };

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowNode>[]) => {
      setNodes((current) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), current));
      if (changes.some((c) => c.type === "select")) {
        const next = new Set(selectionRef.current);
        for (const c of changes) if (c.type === "select") (c.selected ? next.add(c.id) : next.delete(c.id));
        props.onSelectionChange(next, new Set([...selectedEdges].map(edgeIndexOf).filter((i): i is number => i != null)));
      }
    },
    [props, selectedEdges],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange<FlowEdge>[]) => {
      if (!changes.some((c) => c.type === "select")) return;
      setSelectedEdges((current) => {
        const next = new Set(current);
        for (const c of changes) if (c.type === "select") (c.selected ? next.add(c.id) : next.delete(c.id));
        props.onSelectionChange(new Set(selectionRef.current), new Set([...next].map(edgeIndexOf).filter((i): i is number => i != null)));
        return next;
      });
    },
    [props],
  );
  const onNodeDragStop = useCallback(
    (_: unknown, __: FlowNode, dragged: FlowNode[]) => props.onMove(new Map(dragged.map((n) => [n.id, n.position]))),
    [props],
  );

  const isValidConnection: IsValidConnection<FlowEdge> = useCallback(
    (c) => connectionProblem(doc, types, { source: c.source, port: c.sourceHandle ?? "out", target: c.target }) == null,
    [doc, types],
  );
  const onConnect = useCallback((c: Connection) => props.onConnect(c.source, c.sourceHandle ?? "out", c.target), [props]);
  // Say why a drag was refused: xyflow ends it silently.
  const pending = useRef<{ source: string; port: string } | null>(null);
  const onConnectStart = useCallback((_: unknown, p: { nodeId: string | null; handleId: string | null; handleType: string | null }) => {
    pending.current = p.nodeId && p.handleType === "source" ? { source: p.nodeId, port: p.handleId ?? "out" } : null;
  }, []);
  const onConnectEnd = useCallback(
    (event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      const from = pending.current;
      pending.current = null;
      if (!from || !(event instanceof MouseEvent)) return;
      // Dropped on empty canvas, near no port (xyflow's isValid stays null): offer a node to add there.
      const onPane = state.isValid === null && !document.elementFromPoint(event.clientX, event.clientY)?.closest(".react-flow__node");
      if (onPane && editable) {
        const box = wrapper.current?.getBoundingClientRect();
        if (box) setPicker({ at: { x: event.clientX - box.left, y: event.clientY - box.top }, flow: screenToFlowPosition({ x: event.clientX, y: event.clientY }), ...from });
        return;
      }
      const el = document.elementFromPoint(event.clientX, event.clientY)?.closest(".react-flow__node");
      const target = el?.getAttribute("data-id");
      if (!target || target === from.source) return;
      const reason = connectionProblem(doc, types, { source: from.source, port: from.port, target });
      if (reason) props.onRefused(reason);
    },
    [doc, types, props, editable, screenToFlowPosition],
  );
  const typeList = useMemo(() => [...types.values()], [types]);

  const onDragOver = useCallback((event: DragEvent) => {
    if (!event.dataTransfer.types.includes(PALETTE_MIME)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }, []);
  const onDropHere = useCallback(
    (event: DragEvent) => {
      const type = event.dataTransfer.getData(PALETTE_MIME);
      if (!type) return;
      event.preventDefault();
      const position = screenToFlowPosition({ x: event.clientX, y: event.clientY });
      // Dropped onto an edge: the edge's wide invisible hit path is under the pointer.
      const edgeEl = document
        .elementsFromPoint(event.clientX, event.clientY)
        .map((el) => el.closest(".react-flow__edge"))
        .find((el) => el);
      const edgeIndex = edgeEl ? edgeIndexOf(edgeEl.getAttribute("data-id") ?? "") : null;
      props.onDrop(type, { x: position.x - 108, y: position.y - 36 }, edgeIndex);
    },
    [screenToFlowPosition, props],
  );

  const edges = useMemo(
    () => decorateEdges(flow.edges, nodeRuns, runActive, edgeProblems, selectedEdges),
    [flow.edges, nodeRuns, runActive, edgeProblems, selectedEdges],
  );
  const overlay = useMemo<RunOverlay>(
    () => ({
      nodes: nodeRuns,
      selected: selection.size === 1 ? [...selection][0] : null,
      runActive,
      onSelect: props.onOpenNode,
      editable,
      problems,
      warnings: props.warnings,
      marks,
      onRename: props.onRename,
    }),
    [nodeRuns, selection, runActive, props.onOpenNode, editable, problems, props.warnings, marks, props.onRename],
  );
  const minimapColor = useCallback(
    (node: FlowNode) => (node.type === "note" ? "#fde68a" : problems.has(node.id) ? "#f87171" : STATUS_COLORS[nodeRuns.get(node.id)?.status ?? "idle"]),
    [nodeRuns, problems],
  );
  const [, setViewport] = useState<Viewport | null>(null);

  return (
    <RunOverlayContext.Provider value={overlay}>
      <div
        className="graph"
        aria-label="Workflow canvas"
        role="region"
        ref={wrapper}
        onDragOver={onDragOver}
        onDrop={onDropHere}
        onMouseMove={(e) => (mouse.current = { x: e.clientX, y: e.clientY })}
        onMouseLeave={() => (mouse.current = null)}
        data-testid="canvas"
      >
        <ReactFlow<FlowNode, FlowEdge>
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onNodeDragStop={onNodeDragStop}
          onSelectionDragStop={(_, dragged) => props.onMove(new Map(dragged.map((n) => [n.id, n.position])))}
          onConnect={onConnect}
          onConnectStart={onConnectStart}
          onConnectEnd={onConnectEnd}
          isValidConnection={isValidConnection}
          onNodeClick={(_, node) => props.onOpenNode(node.id)}
          onMoveEnd={() => setViewport(getViewport())}
          nodesDraggable={editable}
          nodesConnectable={editable}
          elementsSelectable
          selectionOnDrag={editable}
          selectionMode={SelectionMode.Partial}
          panOnDrag={editable ? [1, 2] : true}
          panOnScroll={editable}
          multiSelectionKeyCode={["Shift", "Meta", "Control"]}
          deleteKeyCode={null}
          selectionKeyCode={null}
          nodesFocusable
          edgesFocusable={editable}
          connectionRadius={28}
          fitView={fitOnOpen}
          fitViewOptions={{ padding: 0.2, maxZoom: 1.1 }}
          minZoom={0.1}
          maxZoom={2}
          onlyRenderVisibleElements={doc.nodes.length > 150}
          defaultEdgeOptions={{ markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 } }}
        >
          <Background gap={20} size={1} color="#e2e8f0" />
          <FanoutRegions doc={doc} types={props.types} />
          <MiniMap pannable zoomable nodeColor={minimapColor} nodeStrokeWidth={2} ariaLabel="Mini map of the workflow" style={{ width: 150, height: 100 }} position="bottom-right" />
          <Controls showInteractive={false} aria-label="Zoom controls" position="bottom-left">
            {/* The Z key's button: a mouse user finds it next to the other zoom controls. */}
            <ControlButton
              onClick={() => props.apiRef.current?.zoomTo([...selection])}
              disabled={selection.size === 0}
              title={selection.size ? "Zoom to the selection (Z)" : "Zoom to the selection (Z): select nodes first"}
              aria-label="Zoom to the selection"
              data-testid="zoom-to-selection"
            >
              <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
                <path d="M1 5V1h4M11 1h4v4M15 11v4h-4M5 15H1v-4" fill="none" stroke="currentColor" strokeWidth="1.8" />
                <rect x="5.5" y="5.5" width="5" height="5" fill="currentColor" />
              </svg>
            </ControlButton>
          </Controls>
        </ReactFlow>
        {picker && (
          <NodePicker
            types={typeList}
            at={picker.at}
            from={picker.source}
            onClose={() => setPicker(null)}
            onPick={(type) => {
              // The new node's input port (top middle) where the edge was dropped.
              props.onAddConnected(type, { x: picker.flow.x - 108, y: picker.flow.y }, picker.source, picker.port);
              setPicker(null);
            }}
          />
        )}
      </div>
    </RunOverlayContext.Provider>
  );
}

/** Edges coloured by the run and by validation; loop back-edges move while their loop runs. */
function decorateEdges(
  edges: FlowEdge[],
  nodeRuns: ReadonlyMap<string, NodeRun>,
  runActive: boolean,
  problems: ReadonlyMap<number, string>,
  selected: ReadonlySet<string>,
): FlowEdge[] {
  if (!nodeRuns.size && !problems.size && !selected.size) return edges;
  return edges.map((edge, index) => {
    const problem = problems.get(index);
    const state = nodeRuns.size ? edgeRunState(nodeRuns.get(edge.source), nodeRuns.get(edge.target), edge.data?.port ?? "out") : null;
    const back = edge.data?.back ?? false;
    const loopRunning = back && runActive && (nodeRuns.get(edge.target)?.activations ?? 0) > 0;
    return {
      ...edge,
      selected: selected.has(edge.id),
      className: [edge.className, state ? `edge-${state}` : "", problem ? "edge-problem" : ""].filter(Boolean).join(" "),
      label: problem ? `⚠ ${problem.length > 60 ? `${problem.slice(0, 57)}…` : problem}` : edge.label,
      ariaLabel: problem ? `Edge ${edge.source} → ${edge.target}: ${problem}` : undefined,
      animated: state === "active" || loopRunning,
    };
  });
}
