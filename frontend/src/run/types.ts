/**
 * The run protocol as the browser receives it: the event vocabulary of
 * engine/events.py and the messages of the run WebSocket (editor/consumers.py).
 */

export type RunStatus = "queued" | "running" | "waiting" | "succeeded" | "failed" | "cancelled";
export type StepStatus = "running" | "waiting" | "succeeded" | "failed" | "skipped" | "cancelled";

export const FINISHED_RUN_STATUSES: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

export function isRunFinished(status: string | undefined | null): boolean {
  return !!status && FINISHED_RUN_STATUSES.has(status);
}

export interface RunUsage {
  tokens: number;
  cost_usd: number;
  steps: number;
}

export interface StepUsage {
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
}

/** A run's error: what went wrong, and where when a step caused it. */
export interface RunError {
  message?: string;
  node?: string;
  reason?: string;
}

/** A run as `GET /api/workflows/{id}/runs/` and the snapshot describe it. */
export interface RunSummary {
  id: number;
  workflow?: number | null;
  version?: number | null;
  status: RunStatus;
  input?: unknown;
  output?: unknown;
  error?: RunError | null;
  usage?: RunUsage;
  demo?: boolean;
  trigger?: string;
  triggered_by?: string | null;
  /** A re-run: the run it re-ran, and the node it re-ran from. */
  rerun_of?: number | null;
  from_node?: string;
  created_at?: string | null;
  started_at?: string | null;
  finished_at?: string | null;
}

interface EventBase {
  run: number;
  /** Absent on events rebuilt from the database for a run whose log expired. */
  seq?: number;
}

interface StepEventBase extends EventBase {
  node: string;
  key: string;
}

export interface RunStartedEvent extends EventBase {
  type: "run.started";
  status: RunStatus;
}

export interface RunFinishedEvent extends EventBase {
  type: "run.finished";
  status: RunStatus;
  output?: unknown;
  error?: RunError | null;
  usage?: RunUsage;
  duration_ms?: number | null;
}

/** A run parked until a person answers a human step: no worker is held. */
export interface RunWaitingEvent extends EventBase {
  type: "run.waiting";
  waiting_on: { node: string; key: string; assignees: string[] }[];
}

/** A human step asks a person. */
export interface StepWaitingEvent extends StepEventBase {
  type: "step.waiting";
  prompt?: string;
  assignees?: string[];
  form?: unknown;
  allow_reject?: boolean;
  deadline?: string | null;
}

export interface StepStartedEvent extends StepEventBase {
  type: "step.started";
  node_type?: string;
  input?: unknown;
  attempt?: number;
}

export interface StepDeltaEvent extends StepEventBase {
  type: "step.delta";
  text: string;
}

export interface StepRetryingEvent extends StepEventBase {
  type: "step.retrying";
  attempt: number;
  error: string;
}

export interface StepFinishedEvent extends StepEventBase {
  type: "step.finished";
  node_type?: string;
  status?: "succeeded";
  input?: unknown;
  output?: unknown;
  ports?: string[] | null;
  usage?: StepUsage;
  model?: string;
  demo?: boolean;
  /** Not executed: "cache", "pin" or "rerun" (copied from the run this one re-ran). */
  reused?: string | null;
  attempts?: number;
  duration_ms?: number | null;
  run_usage?: RunUsage;
}

export interface StepFailedEvent extends StepEventBase {
  type: "step.failed";
  error: string;
  attempts?: number;
}

export interface StepSkippedEvent extends StepEventBase {
  type: "step.skipped";
}

export interface StepCancelledEvent extends StepEventBase {
  type: "step.cancelled";
}

export type StepEvent =
  | StepStartedEvent
  | StepDeltaEvent
  | StepRetryingEvent
  | StepFinishedEvent
  | StepFailedEvent
  | StepSkippedEvent
  | StepCancelledEvent
  | StepWaitingEvent;

export type RunEvent = RunStartedEvent | RunFinishedEvent | RunWaitingEvent | StepEvent;

export interface SnapshotMessage {
  type: "snapshot";
  run: RunSummary;
  events: RunEvent[];
  seq: number;
}

export interface EventsMessage {
  type: "events";
  events: RunEvent[];
}

/** A status change made outside the engine (a queued run cancelled). */
export interface StatusMessage {
  type: "status";
  status: RunStatus;
}

export interface PongMessage {
  type: "pong";
}

export type ServerMessage = SnapshotMessage | EventsMessage | StatusMessage | PongMessage;
