/**
 * Edits of a format v1 document, as pure functions: each takes a document
 * and returns a new one (the old one is never mutated), so the editor's
 * history is a list of documents and undo is taking the previous one.
 */
import { DEFAULT_PORT, FORMAT_V1, sourcePortOf, type EdgeDoc, type NodeDoc, type PinDoc, type Position, type WorkflowDoc } from "./format";
import type { NodeTypeDescription } from "./nodeTypes";

export function emptyDoc(name = "Untitled workflow"): WorkflowDoc {
  return {
    format: FORMAT_V1,
    name,
    description: "",
    inputs: { type: "object", properties: {}, required: [] },
    settings: { max_steps: 200, max_tokens: 200000, max_cost_usd: 1, timeout_s: 600 },
    nodes: [],
    edges: [],
  };
}

const ID_PATTERN = /[^A-Za-z0-9_]+/g;

/** An id not used yet, from a base such as the type ("llm" → "llm", "llm_2", …). */
export function uniqueId(base: string, taken: ReadonlySet<string>): string {
  const clean = base.replace(ID_PATTERN, "_").replace(/^_+|_+$/g, "") || "node";
  const stem = /^[A-Za-z_]/.test(clean) ? clean : `n_${clean}`;
  if (!taken.has(stem)) return stem;
  const root = stem.replace(/_\d+$/, "");
  for (let i = 2; ; i++) {
    const id = `${root}_${i}`;
    if (!taken.has(id)) return id;
  }
}

/** A fresh config for a type: the defaults and required minimums of its schema. */
export function defaultConfig(desc: NodeTypeDescription | undefined): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const props = desc?.config_schema.properties ?? {};
  for (const name of desc?.config_schema.required ?? []) {
    const prop = props[name] ?? {};
    if (prop.default !== undefined && prop.default !== null) config[name] = prop.default;
    else if (prop.type === "integer" || prop.type === "number") config[name] = typeof prop.minimum === "number" ? Math.max(prop.minimum, 3) : 1;
    else if (prop.type === "array") config[name] = [];
    else config[name] = "";
  }
  if (desc?.type === "note") config.text = "";
  return config;
}

export function addNode(doc: WorkflowDoc, type: string, position: Position, desc?: NodeTypeDescription): { doc: WorkflowDoc; id: string } {
  const id = uniqueId(type, new Set(doc.nodes.map((n) => n.id)));
  const node: NodeDoc = { id, type, position: roundPosition(position) };
  const config = defaultConfig(desc);
  if (Object.keys(config).length) node.config = config;
  return { doc: { ...doc, nodes: [...doc.nodes, node] }, id };
}

function roundPosition(p: Position): Position {
  return { x: Math.round(p.x), y: Math.round(p.y) };
}

/** Removes nodes (and every edge touching them) and edges given by index. */
export function removeElements(doc: WorkflowDoc, nodeIds: Iterable<string>, edgeIndexes: Iterable<number> = []): WorkflowDoc {
  const gone = new Set(nodeIds);
  const edgesGone = new Set(edgeIndexes);
  return {
    ...doc,
    nodes: doc.nodes.filter((n) => !gone.has(n.id)),
    edges: (doc.edges ?? []).filter((e, i) => !edgesGone.has(i) && !gone.has(e.source) && !gone.has(e.target)),
  };
}

function sameEdge(a: EdgeDoc, b: EdgeDoc): boolean {
  return a.source === b.source && a.target === b.target && sourcePortOf(a) === sourcePortOf(b);
}

/** Adds an edge; `source_port` is left out for the default port, as hand-written documents do. */
export function connect(doc: WorkflowDoc, source: string, port: string, target: string): WorkflowDoc {
  const edge: EdgeDoc = port === DEFAULT_PORT ? { source, target } : { source, source_port: port, target };
  if ((doc.edges ?? []).some((e) => sameEdge(e, edge))) return doc;
  return { ...doc, edges: [...(doc.edges ?? []), edge] };
}

/**
 * Puts a node in the middle of an edge: source → node → target. The node
 * leaves through its first output port; a node without input or output
 * ports cannot sit on an edge and the document is returned unchanged.
 */
export function insertOnEdge(doc: WorkflowDoc, edgeIndex: number, nodeId: string, firstPort: string | undefined): WorkflowDoc {
  const edge = (doc.edges ?? [])[edgeIndex];
  if (!edge || !firstPort) return doc;
  const edges = [...(doc.edges ?? [])];
  edges.splice(edgeIndex, 1, { ...edge, target: nodeId }, firstPort === DEFAULT_PORT ? { source: nodeId, target: edge.target } : { source: nodeId, source_port: firstPort, target: edge.target });
  return { ...doc, edges };
}

export function moveNodes(doc: WorkflowDoc, positions: ReadonlyMap<string, Position>): WorkflowDoc {
  if (!positions.size) return doc;
  return { ...doc, nodes: doc.nodes.map((n) => (positions.has(n.id) ? { ...n, position: roundPosition(positions.get(n.id)!) } : n)) };
}

export function updateNode(doc: WorkflowDoc, id: string, change: Partial<NodeDoc>): WorkflowDoc {
  return { ...doc, nodes: doc.nodes.map((n) => (n.id === id ? dropEmpty({ ...n, ...change }) : n)) };
}

/** Pins `output` to a node (it will not run; its successors get the pin), or with null unpins it. */
export function setPin(doc: WorkflowDoc, id: string, pin: PinDoc | null): WorkflowDoc {
  return {
    ...doc,
    nodes: doc.nodes.map((n) => {
      if (n.id !== id) return n;
      const { pin: _old, ...rest } = n;
      return pin ? { ...rest, pin: pin.ports ? pin : { output: pin.output } } : rest;
    }),
  };
}

function dropEmpty(node: NodeDoc): NodeDoc {
  const out = { ...node };
  if (out.name != null && !out.name.trim()) delete out.name;
  if (out.name === null) delete out.name;
  return out;
}

/** Renames a node's id everywhere the document names it (edges and `nodes.<id>` in templates). */
export function renameId(doc: WorkflowDoc, from: string, to: string): WorkflowDoc {
  if (from === to || doc.nodes.some((n) => n.id === to)) return doc;
  const pattern = new RegExp(`\\bnodes\\.${from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`, "g");
  const rewrite = (value: unknown): unknown =>
    typeof value === "string"
      ? value.replace(pattern, `nodes.${to}`)
      : Array.isArray(value)
        ? value.map(rewrite)
        : value && typeof value === "object"
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v)]))
          : value;
  return {
    ...doc,
    nodes: doc.nodes.map((n) => ({ ...n, id: n.id === from ? to : n.id, ...(n.config ? { config: rewrite(n.config) as Record<string, unknown> } : {}) })),
    edges: (doc.edges ?? []).map((e) => ({ ...e, source: e.source === from ? to : e.source, target: e.target === from ? to : e.target })),
  };
}

/** Bakes positions into every node that has none (a document written by hand or by an LLM). */
export function withPositions(doc: WorkflowDoc, positions: ReadonlyMap<string, Position>): WorkflowDoc {
  if (doc.nodes.every((n) => n.position)) return doc;
  return { ...doc, nodes: doc.nodes.map((n) => (n.position ? n : { ...n, position: positions.get(n.id) ?? { x: 0, y: 0 } })) };
}
