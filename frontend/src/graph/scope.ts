/**
 * What a template at a node can name — the completions its prompt editor
 * offers: `input.*` from the inputs schema, `nodes.<id>.output` of every node
 * upstream (through loop back-edges too, as the engine sees it, with fields
 * when an llm node declares a JSON schema), `item`/`index` inside a fan-out,
 * `loop.iteration` inside a loop's body, and `vars.*` that transforms set.
 */
import type { JsonSchema, WorkflowDoc } from "./format";
import { roleOf, type TypeIndex } from "./nodeTypes";
import { enclosingFanouts, fanoutRegions } from "./structure";

export interface ScopeEntry {
  /** What is inserted, e.g. `nodes.plan.output.subtasks`. */
  label: string;
  detail: string;
}

function ancestors(doc: WorkflowDoc, node: string): Set<string> {
  const pred = new Map<string, string[]>();
  for (const e of doc.edges ?? []) pred.set(e.target, [...(pred.get(e.target) ?? []), e.source]);
  const seen = new Set<string>();
  const stack = [node];
  while (stack.length) {
    for (const p of pred.get(stack.pop()!) ?? []) {
      if (!seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return seen;
}

function descendants(doc: WorkflowDoc, from: string, port?: string): Set<string> {
  const succ = new Map<string, { target: string; port: string }[]>();
  for (const e of doc.edges ?? []) succ.set(e.source, [...(succ.get(e.source) ?? []), { target: e.target, port: e.source_port || "out" }]);
  const seen = new Set<string>();
  const stack = (succ.get(from) ?? []).filter((e) => port === undefined || e.port === port).map((e) => e.target);
  stack.forEach((s) => seen.add(s));
  while (stack.length) {
    for (const { target } of succ.get(stack.pop()!) ?? []) {
      if (!seen.has(target) && target !== from) {
        seen.add(target);
        stack.push(target);
      }
    }
  }
  return seen;
}

function schemaFields(schema: unknown, prefix: string, depth = 0): ScopeEntry[] {
  const s = schema as JsonSchema | undefined;
  if (!s || typeof s !== "object" || !s.properties || depth > 2) return [];
  return Object.entries(s.properties).flatMap(([name, sub]) => [
    { label: `${prefix}.${name}`, detail: String(sub.type ?? "field") },
    ...schemaFields(sub, `${prefix}.${name}`, depth + 1),
  ]);
}

export function scopeAt(doc: WorkflowDoc, types: TypeIndex, nodeId: string): ScopeEntry[] {
  const entries: ScopeEntry[] = [{ label: "input", detail: "the run's input" }];
  for (const [name, prop] of Object.entries(doc.inputs?.properties ?? {})) {
    entries.push({ label: `input.${name}`, detail: `input (${String(prop.type ?? "any")})` });
  }
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  const upstream = ancestors(doc, nodeId);
  for (const node of doc.nodes) {
    if (!upstream.has(node.id) || node.id === nodeId || node.type === "note") continue;
    entries.push({ label: `nodes.${node.id}.output`, detail: `${types.get(node.type)?.label ?? node.type}${node.name ? ` “${node.name}”` : ""} output` });
    if (node.config?.output === "json") entries.push(...schemaFields(node.config.json_schema, `nodes.${node.id}.output`));
  }
  if ((enclosingFanouts(doc, fanoutRegions(doc, types)).get(nodeId) ?? []).length) {
    entries.push({ label: "item", detail: "this fan-out item" }, { label: "index", detail: "the item's index (0 …)" });
  }
  const inLoop = doc.nodes.some((n) => {
    if (roleOf(types.get(n.type), n.type) !== "loop" || n.id === nodeId) return false;
    return descendants(doc, n.id, "next").has(nodeId) && descendants(doc, nodeId).has(n.id);
  });
  if (inLoop) entries.push({ label: "loop.iteration", detail: "1 … max_iterations" });
  for (const node of doc.nodes) {
    const name = node.config?.set_var;
    if (typeof name === "string" && name && byId.has(node.id)) entries.push({ label: `vars.${name}`, detail: `set by ${node.id}` });
  }
  entries.push({ label: "run.id", detail: "this run's id" });
  return entries;
}
