/**
 * Copy and paste as format v1 JSON: a copied selection is a small workflow
 * document (its nodes and the edges between them), so it pastes into any
 * workflow, any tab, or a text editor. Pasting renames ids that collide and
 * rewrites the pasted nodes' templates to the new ids.
 */
import { FORMAT_V1, type NodeDoc, type Position, type WorkflowDoc } from "./format";
import { renameId, uniqueId } from "./edit";

export const CLIPBOARD_NAME = "Copied nodes";

export function copySelection(doc: WorkflowDoc, ids: ReadonlySet<string>): WorkflowDoc | null {
  const nodes = doc.nodes.filter((n) => ids.has(n.id));
  if (!nodes.length) return null;
  const edges = (doc.edges ?? []).filter((e) => ids.has(e.source) && ids.has(e.target));
  return { format: FORMAT_V1, name: CLIPBOARD_NAME, nodes: structuredClone(nodes), edges: structuredClone(edges) };
}

/** The document in a pasted text, or null when it is not a format v1 workflow. */
export function parseClipboard(text: string): WorkflowDoc | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== "object") return null;
    const doc = parsed as WorkflowDoc;
    if (doc.format !== FORMAT_V1 || !Array.isArray(doc.nodes)) return null;
    if (!doc.nodes.every((n) => n && typeof n.id === "string" && typeof n.type === "string")) return null;
    return doc;
  } catch {
    return null;
  }
}

/**
 * Adds a copied document's nodes to `doc`, offset so the copy sits apart from
 * the original (or with its top-left at `at`). A second `start` is left out:
 * a workflow has exactly one. Returns the new document and the pasted ids.
 */
export function pasteInto(doc: WorkflowDoc, copied: WorkflowDoc, at: Position | null = null, offset = 40): { doc: WorkflowDoc; ids: string[] } {
  const hasStart = doc.nodes.some((n) => n.type === "start");
  let pasted: WorkflowDoc = {
    ...copied,
    nodes: copied.nodes.filter((n) => !(hasStart && n.type === "start")),
    edges: copied.edges ?? [],
  };
  const kept = new Set(pasted.nodes.map((n) => n.id));
  pasted = { ...pasted, edges: (pasted.edges ?? []).filter((e) => kept.has(e.source) && kept.has(e.target)) };
  const taken = new Set(doc.nodes.map((n) => n.id));
  // Rename in two passes through temporary ids, so a rename never lands on another pasted id.
  const finalIds = new Map<string, string>();
  for (const node of pasted.nodes) {
    const id = uniqueId(node.id, taken);
    taken.add(id);
    finalIds.set(node.id, id);
  }
  pasted.nodes.forEach((n, i) => (pasted = renameId(pasted, n.id, `__paste_${i}__`)));
  [...finalIds.values()].forEach((id, i) => (pasted = renameId(pasted, `__paste_${i}__`, id)));
  const xs = pasted.nodes.map((n) => n.position?.x ?? 0);
  const ys = pasted.nodes.map((n) => n.position?.y ?? 0);
  const dx = at ? at.x - Math.min(...xs) : offset;
  const dy = at ? at.y - Math.min(...ys) : offset;
  const nodes: NodeDoc[] = pasted.nodes.map((n) => ({ ...n, position: { x: Math.round((n.position?.x ?? 0) + dx), y: Math.round((n.position?.y ?? 0) + dy) } }));
  return {
    doc: { ...doc, nodes: [...doc.nodes, ...nodes], edges: [...(doc.edges ?? []), ...(pasted.edges ?? [])] },
    ids: nodes.map((n) => n.id),
  };
}
