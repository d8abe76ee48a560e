/**
 * What changed between two documents, by node id, and a three-way merge for
 * concurrent edits: mine and theirs, both made from the same base.
 */
import { sourcePortOf, type EdgeDoc, type NodeDoc, type WorkflowDoc } from "./format";

export interface DocDiff {
  added: string[];
  removed: string[];
  changed: string[];
  /** Only moved on the canvas: changed, but not in what it does. */
  moved: string[];
  edgesAdded: EdgeDoc[];
  edgesRemoved: EdgeDoc[];
  /** Top-level fields (name, inputs, settings …) that differ. */
  fields: string[];
}

function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
}

function withoutPosition(node: NodeDoc): NodeDoc {
  const { position: _p, ...rest } = node;
  return rest as NodeDoc;
}

export function edgeKey(e: EdgeDoc): string {
  return `${e.source}.${sourcePortOf(e)}->${e.target}`;
}

const TOP_FIELDS = ["name", "description", "inputs", "settings"] as const;

export function diffDocs(before: WorkflowDoc, after: WorkflowDoc): DocDiff {
  const a = new Map(before.nodes.map((n) => [n.id, n]));
  const b = new Map(after.nodes.map((n) => [n.id, n]));
  const diff: DocDiff = { added: [], removed: [], changed: [], moved: [], edgesAdded: [], edgesRemoved: [], fields: [] };
  for (const [id, node] of b) {
    const old = a.get(id);
    if (!old) diff.added.push(id);
    else if (stable(withoutPosition(old)) !== stable(withoutPosition(node))) diff.changed.push(id);
    else if (stable(old.position) !== stable(node.position)) diff.moved.push(id);
  }
  for (const id of a.keys()) if (!b.has(id)) diff.removed.push(id);
  const ea = new Set((before.edges ?? []).map(edgeKey));
  const eb = new Set((after.edges ?? []).map(edgeKey));
  diff.edgesAdded = (after.edges ?? []).filter((e) => !ea.has(edgeKey(e)));
  diff.edgesRemoved = (before.edges ?? []).filter((e) => !eb.has(edgeKey(e)));
  diff.fields = TOP_FIELDS.filter((f) => stable(before[f] ?? null) !== stable(after[f] ?? null));
  return diff;
}

export function isEmptyDiff(d: DocDiff): boolean {
  return !d.added.length && !d.removed.length && !d.changed.length && !d.moved.length && !d.edgesAdded.length && !d.edgesRemoved.length && !d.fields.length;
}

export type Side = "mine" | "theirs";

export interface MergeResult {
  doc: WorkflowDoc;
  /** Nodes (or top-level fields, as "@name") both sides changed differently: the caller picks a side. */
  conflicts: string[];
}

/**
 * Applies my changes (base → mine) on top of theirs. Where both changed the
 * same node (or the same top-level field) differently, `choices` says which
 * side wins; without a choice theirs stays and the id is reported as a conflict.
 */
export function mergeDocs(base: WorkflowDoc, mine: WorkflowDoc, theirs: WorkflowDoc, choices: Record<string, Side> = {}): MergeResult {
  const baseNodes = new Map(base.nodes.map((n) => [n.id, n]));
  const mineNodes = new Map(mine.nodes.map((n) => [n.id, n]));
  const theirNodes = new Map(theirs.nodes.map((n) => [n.id, n]));
  const conflicts: string[] = [];
  const same = (x: unknown, y: unknown) => stable(x) === stable(y);
  const pick = (id: string, baseV: unknown, mineV: unknown, theirV: unknown): Side => {
    if (same(mineV, baseV)) return "theirs";
    if (same(theirV, baseV) || same(mineV, theirV)) return "mine";
    if (choices[id]) return choices[id];
    conflicts.push(id);
    return "theirs";
  };
  const ids = [...new Set([...theirs.nodes.map((n) => n.id), ...mine.nodes.map((n) => n.id)])];
  const nodes: NodeDoc[] = [];
  for (const id of ids) {
    const side = pick(id, baseNodes.get(id) ?? null, mineNodes.get(id) ?? null, theirNodes.get(id) ?? null);
    const node = side === "mine" ? mineNodes.get(id) : theirNodes.get(id);
    if (node) nodes.push(node);
  }
  const keep = new Set(nodes.map((n) => n.id));
  const baseEdges = new Set((base.edges ?? []).map(edgeKey));
  const mineEdges = new Set((mine.edges ?? []).map(edgeKey));
  const edges: EdgeDoc[] = [];
  const seen = new Set<string>();
  for (const e of [...(theirs.edges ?? []), ...(mine.edges ?? [])]) {
    const key = edgeKey(e);
    if (seen.has(key) || !keep.has(e.source) || !keep.has(e.target)) continue;
    seen.add(key);
    const inTheirs = (theirs.edges ?? []).some((t) => edgeKey(t) === key);
    const removedByMe = baseEdges.has(key) && !mineEdges.has(key);
    const addedByMe = !baseEdges.has(key) && mineEdges.has(key);
    if ((inTheirs && !removedByMe) || addedByMe) edges.push(e);
  }
  const doc: WorkflowDoc = { ...theirs, nodes, edges };
  for (const field of TOP_FIELDS) {
    const side = pick(`@${field}`, base[field] ?? null, mine[field] ?? null, theirs[field] ?? null);
    if (side === "mine") (doc as unknown as Record<string, unknown>)[field] = mine[field];
  }
  return { doc, conflicts };
}

export interface FieldChange {
  /** "config.prompt", "name", "retry" …; for workflow fields, the field itself. */
  field: string;
  before: unknown;
  after: unknown;
}

/** Field by field, what changed in node `id` (or, for "@name", the workflow's field) between two documents. */
export function fieldChanges(before: WorkflowDoc, after: WorkflowDoc, id: string): FieldChange[] {
  if (id.startsWith("@")) {
    const f = id.slice(1) as (typeof TOP_FIELDS)[number];
    return stable(before[f] ?? null) === stable(after[f] ?? null) ? [] : [{ field: f, before: before[f], after: after[f] }];
  }
  const a = before.nodes.find((n) => n.id === id);
  const b = after.nodes.find((n) => n.id === id);
  const flat = (n: NodeDoc | undefined): Record<string, unknown> => {
    if (!n) return {};
    const { position: _p, config, id: _id, ...rest } = n;
    const out: Record<string, unknown> = { ...rest };
    for (const [k, v] of Object.entries(config ?? {})) out[`config.${k}`] = v;
    return out;
  };
  const fa = flat(a);
  const fb = flat(b);
  const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])];
  return keys.filter((k) => stable(fa[k] ?? null) !== stable(fb[k] ?? null)).map((k) => ({ field: k, before: fa[k], after: fb[k] }));
}
