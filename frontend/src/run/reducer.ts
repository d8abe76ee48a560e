/**
 * A run's state in the browser, built from the run WebSocket's messages.
 * Pure: no React, no sockets, plain data in and out, so it can be tested by
 * feeding it recorded messages.
 *
 * Ordering rules:
 * - Every published event has a `seq`. An event whose seq was already applied
 *   is dropped, so a reconnect's replay never doubles text or steps.
 * - Events may arrive slightly out of order across batches. A step's status is
 *   only changed by an event at least as new as the one that set it, and its
 *   streamed text is kept as chunks ordered by seq.
 * - A snapshot stands for everything up to its `seq` (its deltas are merged,
 *   so their seqs have gaps); the watermark jumps there.
 * - `step.retrying`, and a `step.started` of a step already started (its run
 *   taken over by another worker), void the text streamed before them.
 */
import type {
  RunError,
  RunEvent,
  RunStatus,
  RunSummary,
  RunUsage,
  ServerMessage,
  StepEvent,
  StepStatus,
  StepUsage,
} from "./types";

export type StepId = string;

export function stepId(node: string, key: string): StepId {
  return `${node}|${key}`;
}

export interface TextChunk {
  seq: number;
  text: string;
}

export interface StepState {
  id: StepId;
  node: string;
  key: string;
  nodeType: string | null;
  status: StepStatus;
  /** The seq of the event that set `status`; an older event cannot override it. */
  statusSeq: number;
  /** The attempt in progress (or the last one). */
  attempt: number;
  /** Attempts used, once the step is over. */
  attempts: number | null;
  input: unknown;
  output: unknown;
  hasOutput: boolean;
  /** Ports the step went out through (null: all of them). */
  ports: string[] | null;
  /** Streamed text of the current attempt. */
  text: string;
  chunks: TextChunk[];
  /** Deltas before this seq belong to a voided attempt. */
  textFrom: number;
  error: string | null;
  /** Errors of attempts that were retried, oldest first. */
  retryErrors: string[];
  usage: StepUsage | null;
  model: string | null;
  demo: boolean;
  /** Not executed here: "cache", "pin" or "rerun". */
  reused: string | null;
  durationMs: number | null;
  /** Position in the order steps first appeared. */
  order: number;
}

export interface RunState {
  runId: number | null;
  run: RunSummary | null;
  status: RunStatus | null;
  statusSeq: number;
  output: unknown;
  error: RunError | null;
  usage: RunUsage;
  usageSeq: number;
  durationMs: number | null;
  steps: Record<StepId, StepState>;
  /** Step ids in the order they first appeared. */
  order: StepId[];
  /** Every seq up to here has been applied (or is covered by a snapshot). */
  watermark: number;
  /** Applied seqs above the watermark: events that arrived ahead of a gap. */
  ahead: number[];
  highestSeq: number;
  snapshotReceived: boolean;
  /** The step that started most recently. */
  lastStarted: StepId | null;
}

const EMPTY_USAGE: RunUsage = { tokens: 0, cost_usd: 0, steps: 0 };

export function initialRunState(runId: number | null, summary?: Partial<RunSummary> | null): RunState {
  return {
    runId,
    run: summary && runId != null ? ({ id: runId, status: "queued", ...summary } as RunSummary) : null,
    status: summary?.status ?? (runId != null ? "queued" : null),
    statusSeq: 0,
    output: summary?.output ?? null,
    error: nonEmptyError(summary?.error),
    usage: summary?.usage ?? EMPTY_USAGE,
    usageSeq: 0,
    durationMs: null,
    steps: {},
    order: [],
    watermark: 0,
    ahead: [],
    highestSeq: 0,
    snapshotReceived: false,
    lastStarted: null,
  };
}

/** The seq to reconnect from: everything up to it has been applied. */
export function resumeSeq(state: RunState): number {
  return state.watermark;
}

/** Applies one WebSocket message. */
export function applyMessage(state: RunState, message: ServerMessage): RunState {
  switch (message.type) {
    case "snapshot": {
      const summary = message.run;
      let next: RunState = {
        ...state,
        run: summary,
        snapshotReceived: true,
        status: summary.status,
        output: summary.output ?? state.output,
        error: nonEmptyError(summary.error) ?? state.error,
        usage: summary.usage ?? state.usage,
      };
      next = applyEvents(next, message.events);
      const watermark = Math.max(next.watermark, message.seq || 0);
      return {
        ...next,
        watermark,
        ahead: next.ahead.filter((s) => s > watermark),
        highestSeq: Math.max(next.highestSeq, watermark),
      };
    }
    case "events":
      return applyEvents(state, message.events);
    case "status":
      return { ...state, status: message.status, run: state.run ? { ...state.run, status: message.status } : state.run };
    default:
      return state;
  }
}

/** Applies a batch of events, dropping those already applied. */
export function applyEvents(state: RunState, events: readonly RunEvent[]): RunState {
  if (!events.length) return state;
  const ordered = events.every((e) => typeof e.seq === "number") ? [...events].sort((a, b) => a.seq! - b.seq!) : events;
  const draft: RunState = { ...state, steps: { ...state.steps }, order: [...state.order], ahead: [...state.ahead] };
  let changed = false;
  for (const event of ordered) {
    if (typeof event.seq === "number") {
      if (isApplied(draft, event.seq)) continue;
      markApplied(draft, event.seq);
    }
    applyEvent(draft, event);
    changed = true;
  }
  return changed ? draft : state;
}

function isApplied(state: RunState, seq: number): boolean {
  return seq <= state.watermark || state.ahead.includes(seq);
}

function markApplied(state: RunState, seq: number): void {
  state.highestSeq = Math.max(state.highestSeq, seq);
  if (seq !== state.watermark + 1) {
    state.ahead.push(seq);
    return;
  }
  state.watermark = seq;
  let at: number;
  while ((at = state.ahead.indexOf(state.watermark + 1)) !== -1) {
    state.ahead.splice(at, 1);
    state.watermark += 1;
  }
}

function applyEvent(state: RunState, event: RunEvent): void {
  const seq = event.seq ?? 0;
  switch (event.type) {
    case "run.started":
      if (seq >= state.statusSeq && !isOver(state.status)) {
        state.status = "running";
        state.statusSeq = seq;
      }
      return;
    case "run.waiting":
      if (seq >= state.statusSeq && !isOver(state.status)) {
        state.status = "waiting";
        state.statusSeq = seq;
      }
      return;
    case "run.finished":
      if (seq >= state.statusSeq) {
        state.status = event.status;
        state.statusSeq = seq;
      }
      state.output = event.output ?? null;
      state.error = nonEmptyError(event.error);
      if (event.usage) {
        state.usage = event.usage;
        state.usageSeq = Math.max(state.usageSeq, seq);
      }
      state.durationMs = event.duration_ms ?? state.durationMs;
      return;
    default:
      applyStepEvent(state, event);
  }
}

function applyStepEvent(state: RunState, event: StepEvent): void {
  const seq = event.seq ?? 0;
  const id = stepId(event.node, event.key);
  const existing = state.steps[id];
  const step: StepState = existing ? { ...existing } : newStep(event.node, event.key, state.order.length);
  if (!existing) state.order.push(id);
  const takesStatus = seq >= step.statusSeq;
  const setStatus = (status: StepStatus) => {
    if (takesStatus) {
      step.status = status;
      step.statusSeq = seq;
    }
  };

  switch (event.type) {
    case "step.started":
      // Started again (a worker took the run over after its owner died), the
      // step streams anew: the text streamed before this event is void.
      if (seq) voidTextBefore(step, seq);
      step.nodeType = event.node_type ?? step.nodeType;
      if (event.input !== undefined) step.input = event.input;
      if (takesStatus) step.attempt = event.attempt ?? step.attempt;
      setStatus("running");
      state.lastStarted = id;
      if (!isOver(state.status) && seq >= state.statusSeq) state.status = "running";
      break;
    case "step.delta":
      if (seq && seq < step.textFrom) break;
      step.chunks = insertChunk(step.chunks, { seq, text: event.text });
      step.text = seq && step.chunks.length > 1 && step.chunks[step.chunks.length - 1].seq !== seq
        ? step.chunks.map((c) => c.text).join("")
        : step.text + event.text;
      break;
    case "step.retrying":
      // The partial text of the failed attempt (or of the worker it was taken from) is void.
      voidTextBefore(step, seq);
      step.retryErrors = [...step.retryErrors, event.error];
      if (takesStatus) step.attempt = event.attempt;
      setStatus("running");
      break;
    case "step.finished":
      step.nodeType = event.node_type ?? step.nodeType;
      if (event.input !== undefined && event.input !== null) step.input = event.input;
      step.output = event.output ?? null;
      step.hasOutput = true;
      step.ports = event.ports ?? null;
      step.usage = event.usage ?? null;
      step.model = event.model || null;
      step.demo = !!event.demo;
      step.reused = event.reused || null;
      step.attempts = event.attempts ?? step.attempt;
      step.durationMs = event.duration_ms ?? null;
      step.error = null;
      setStatus("succeeded");
      if (event.run_usage && seq >= state.usageSeq) {
        state.usage = event.run_usage;
        state.usageSeq = seq;
      }
      break;
    case "step.failed":
      step.error = event.error;
      step.attempts = event.attempts ?? step.attempt;
      setStatus("failed");
      break;
    case "step.skipped":
      setStatus("skipped");
      break;
    case "step.cancelled":
      setStatus("cancelled");
      break;
    case "step.waiting":
      step.nodeType = step.nodeType ?? "human";
      step.input = {
        prompt: event.prompt,
        assignees: event.assignees ?? [],
        form: event.form,
        allow_reject: event.allow_reject ?? true,
        deadline: event.deadline ?? null,
      };
      setStatus("waiting");
      break;
  }
  state.steps[id] = step;
}

function voidTextBefore(step: StepState, seq: number): void {
  step.textFrom = Math.max(step.textFrom, seq);
  step.chunks = step.chunks.filter((c) => c.seq > seq);
  step.text = step.chunks.map((c) => c.text).join("");
}

function newStep(node: string, key: string, order: number): StepState {
  return {
    id: stepId(node, key),
    node,
    key,
    nodeType: null,
    status: "running",
    statusSeq: -1,
    attempt: 1,
    attempts: null,
    input: undefined,
    output: undefined,
    hasOutput: false,
    ports: null,
    text: "",
    chunks: [],
    textFrom: 0,
    error: null,
    retryErrors: [],
    usage: null,
    model: null,
    demo: false,
    reused: null,
    durationMs: null,
    order,
  };
}

/** Inserts a chunk in seq order; the usual case (newest last) is an append. */
function insertChunk(chunks: TextChunk[], chunk: TextChunk): TextChunk[] {
  let at = chunks.length;
  while (at > 0 && chunk.seq && chunks[at - 1].seq > chunk.seq) at--;
  return [...chunks.slice(0, at), chunk, ...chunks.slice(at)];
}

function isOver(status: RunStatus | null): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}

function nonEmptyError(error: RunError | null | undefined): RunError | null {
  return error && typeof error === "object" && Object.keys(error).length ? error : null;
}
