/**
 * Node type descriptions as `GET /api/node-types/` serves them, and what the
 * canvas derives from one: ports, colours, structural roles. The canvas draws
 * one generic node from this; it names a type only where the description does
 * not (yet) say enough.
 */
import type { JsonSchema, NodeDoc } from "./format";

export interface NodeTypeDescription {
  type: string;
  label: string;
  category: string;
  description: string;
  config_schema: JsonSchema;
  template_fields: string[];
  expression_fields: string[];
  has_input: boolean;
  executable: boolean;
  /** null when the ports depend on the config (`dynamic_ports`). */
  output_ports: string[] | null;
  dynamic_ports: boolean;
  // Structural roles. The server does not send these yet; when it does they win
  // over the type-name fallback in `roleOf`.
  opens_fanout?: boolean;
  closes_fanout?: boolean;
  fires_per_input?: boolean;
}

export type TypeIndex = ReadonlyMap<string, NodeTypeDescription>;

export function indexTypes(types: readonly NodeTypeDescription[]): TypeIndex {
  return new Map(types.map((t) => [t.type, t]));
}

/** The fallback port of a `dynamic_ports` type (a switch's "no case matched"). */
export const DYNAMIC_FALLBACK_PORT = "default";

/**
 * The output ports a node shows. Static types list theirs; a dynamic type
 * (switch) has one port per configured case, named by the case's `port`, plus
 * `default`.
 */
export function outputPortsOf(node: NodeDoc, desc: NodeTypeDescription | undefined): string[] {
  if (!desc) return ["out"];
  if (!desc.dynamic_ports) return desc.output_ports ?? [];
  const cases = node.config?.cases;
  const ports = Array.isArray(cases)
    ? cases
        .map((c) => (c && typeof c === "object" ? (c as Record<string, unknown>).port : undefined))
        .filter((p): p is string => typeof p === "string" && p.length > 0)
    : [];
  return [...ports, DYNAMIC_FALLBACK_PORT];
}

export type StructuralRole = "fanout" | "join" | "loop" | null;

/** The node's part in the graph's structure, for drawing fan-out brackets and loop handles. */
export function roleOf(desc: NodeTypeDescription | undefined, type: string): StructuralRole {
  if (desc?.opens_fanout ?? type === "fanout") return "fanout";
  if (desc?.closes_fanout ?? type === "join") return "join";
  if (desc?.fires_per_input ?? type === "loop") return "loop";
  return null;
}

/** Canvas-only types (notes) never run and have no ports. */
export function isCanvasOnly(desc: NodeTypeDescription | undefined, type: string): boolean {
  return desc ? !desc.executable && desc.category === "canvas" : type === "note";
}

export const CATEGORY_COLORS: Record<string, string> = {
  flow: "#6366f1",
  ai: "#db2777",
  data: "#0891b2",
  io: "#ea580c",
  human: "#ca8a04",
  canvas: "#a3a3a3",
};

export function categoryColor(category: string | undefined): string {
  return (category && CATEGORY_COLORS[category]) || "#64748b";
}
