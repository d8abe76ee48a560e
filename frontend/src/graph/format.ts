/**
 * Workflow format v1 ("orchestrator.workflow/v1") as the browser reads it.
 * The server validates documents; these types only describe their shape.
 */

export const FORMAT_V1 = "orchestrator.workflow/v1";

/** The port an edge leaves from when it names none. */
export const DEFAULT_PORT = "out";

export interface Position {
  x: number;
  y: number;
}

export interface RetryPolicy {
  max_attempts?: number;
  backoff_s?: number;
}

export interface NodeDoc {
  id: string;
  type: string;
  name?: string | null;
  position?: Position | null;
  config?: Record<string, unknown>;
  timeout_s?: number | null;
  retry?: RetryPolicy | null;
  cache?: boolean;
  /** A fixed output: the node does not run, its successors get this (debugging what follows). */
  pin?: PinDoc | null;
  width?: number | null;
  height?: number | null;
}

export interface PinDoc {
  output: unknown;
  /** The ports taken; null or absent: all of them. */
  ports?: string[] | null;
}

export interface EdgeDoc {
  id?: string | null;
  source: string;
  source_port?: string | null;
  target: string;
  target_port?: string | null;
}

/** A JSON Schema as far as the app needs to look inside one. */
export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  enum?: unknown[];
  format?: string;
  maxLength?: number;
  [key: string]: unknown;
};

export interface WorkflowSettings {
  max_steps?: number;
  max_tokens?: number | null;
  max_cost_usd?: number | null;
  timeout_s?: number;
}

export interface WorkflowDoc {
  format: string;
  name: string;
  description?: string;
  inputs?: JsonSchema;
  settings?: WorkflowSettings;
  nodes: NodeDoc[];
  edges?: EdgeDoc[];
}

/** The port an edge leaves its source through. */
export function sourcePortOf(edge: EdgeDoc): string {
  return edge.source_port || DEFAULT_PORT;
}

/** A stable id for an edge: its own, or one derived from its ends and position in the list. */
export function edgeIdOf(edge: EdgeDoc, index: number): string {
  return edge.id || `e${index}:${edge.source}.${sourcePortOf(edge)}->${edge.target}`;
}

/** What the user calls a node: its name, else its id. */
export function displayName(node: Pick<NodeDoc, "id" | "name">): string {
  return node.name?.trim() || node.id;
}
