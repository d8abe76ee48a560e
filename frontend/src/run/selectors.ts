/**
 * What the views read off a run's state: per node, its status, latest step,
 * loop iteration count and fan-out progress. Pure functions of RunState.
 */
import { frameKey, isRootKey, parseKey, type FrameSegment } from "./keys";
import type { RunState, StepId, StepState } from "./reducer";
import { isRunFinished, type StepStatus } from "./types";

export type NodeStatus = "idle" | StepStatus;

export interface FanoutProgress {
  /** Items in the fan-out(s), once the fan-out step has finished; null before. */
  total: number | null;
  /** Items in which this node's latest activation succeeded or was skipped. */
  done: number;
  failed: number;
  running: number;
}

export interface NodeRun {
  status: NodeStatus;
  /** The node's most recent activation. */
  latest: StepState | null;
  /** Activations at the top level that ran (not skipped): a loop body's iteration count. */
  activations: number;
  /** For a node inside a fan-out: how its items are going. */
  fanout: FanoutProgress | null;
  /** A one-line preview of what the node is producing or produced. */
  preview: string;
  stepCount: number;
}

const IDLE: NodeRun = { status: "idle", latest: null, activations: 0, fanout: null, preview: "", stepCount: 0 };

/**
 * A step's status as shown: a step still "running" when its run is over was
 * interrupted (its own cancel event may have been lost), so it shows as cancelled.
 */
export function effectiveStatus(step: StepState, state: RunState): StepStatus {
  return step.status === "running" && isRunFinished(state.status) ? "cancelled" : step.status;
}

export function stepsOfNode(state: RunState, node: string): StepState[] {
  const steps: StepState[] = [];
  for (const id of state.order) {
    const step = state.steps[id];
    if (step.node === node) steps.push(step);
  }
  return steps;
}

export function summarizeNodes(state: RunState): Map<string, NodeRun> {
  const byNode = new Map<string, StepState[]>();
  for (const id of state.order) {
    const step = state.steps[id];
    const list = byNode.get(step.node);
    if (list) list.push(step);
    else byNode.set(step.node, [step]);
  }
  const result = new Map<string, NodeRun>();
  for (const [node, steps] of byNode) result.set(node, summarize(state, steps));
  return result;
}

export function summarizeNode(state: RunState, node: string): NodeRun {
  const steps = stepsOfNode(state, node);
  return steps.length ? summarize(state, steps) : IDLE;
}

function summarize(state: RunState, steps: StepState[]): NodeRun {
  const latest = steps[steps.length - 1];
  const statuses = steps.map((s) => effectiveStatus(s, state));
  let status: NodeStatus;
  if (statuses.includes("running")) status = "running";
  else if (statuses.includes("failed")) status = "failed";
  else {
    const ran = [...steps].reverse().find((s) => s.status !== "skipped");
    status = ran ? effectiveStatus(ran, state) : "skipped";
  }
  const activations = steps.filter((s) => isRootKey(s.key) && s.status !== "skipped").length;
  return {
    status,
    latest,
    activations,
    fanout: fanoutProgress(state, steps),
    preview: previewOf(latest, state),
    stepCount: steps.length,
  };
}

function sameSegment(a: FrameSegment | undefined, b: FrameSegment): boolean {
  return !!a && a.fanout === b.fanout && a.activation === b.activation;
}

/**
 * Progress of a node inside a fan-out, for the top-level fan-out activation
 * its latest step belongs to. Nested fan-outs add up: a node two levels deep
 * counts the items of every inner fan-out opened so far.
 */
export function fanoutProgress(state: RunState, steps: StepState[]): FanoutProgress | null {
  const latest = steps[steps.length - 1];
  if (!latest) return null;
  const { frames } = parseKey(latest.key);
  if (!frames.length) return null;
  const root = frames[0];
  const depth = frames.length;
  const inner = frames[depth - 1].fanout;

  // This node's latest activation in each item frame of the group.
  const perItem = new Map<string, StepState>();
  for (const step of steps) {
    const parsed = parseKey(step.key);
    if (parsed.frames.length !== depth || !sameSegment(parsed.frames[0], root)) continue;
    perItem.set(frameKey(parsed.frames), step);
  }
  const progress: FanoutProgress = { total: null, done: 0, failed: 0, running: 0 };
  for (const step of perItem.values()) {
    const status = effectiveStatus(step, state);
    if (status === "succeeded" || status === "skipped") progress.done++;
    else if (status === "failed") progress.failed++;
    else if (status === "running") progress.running++;
  }

  // The item count comes from the fan-out steps that opened the innermost frames.
  for (const id of state.order) {
    const step = state.steps[id];
    if (step.node !== inner || !step.hasOutput || !Array.isArray(step.output)) continue;
    const parsed = parseKey(step.key);
    if (parsed.frames.length !== depth - 1) continue;
    const inGroup = depth === 1 ? parsed.number === root.activation : sameSegment(parsed.frames[0], root);
    if (inGroup) progress.total = (progress.total ?? 0) + step.output.length;
  }
  return progress;
}

const PREVIEW_LENGTH = 90;

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** The tail of streaming text, else the start of the output or error. */
export function previewOf(step: StepState | undefined, state: RunState): string {
  if (!step) return "";
  const status = effectiveStatus(step, state);
  if (status === "failed" && step.error) return oneLine(step.error).slice(0, PREVIEW_LENGTH);
  if (status === "running" && step.text) {
    const flat = oneLine(step.text);
    return flat.length > PREVIEW_LENGTH ? `…${flat.slice(-PREVIEW_LENGTH)}` : flat;
  }
  if (!step.hasOutput || step.output == null) return "";
  const text = typeof step.output === "string" ? step.output : JSON.stringify(step.output);
  const flat = oneLine(text ?? "");
  return flat.length > PREVIEW_LENGTH ? `${flat.slice(0, PREVIEW_LENGTH)}…` : flat;
}

/**
 * The step a "follow live" view shows: the one it shows while that is still
 * running; else the newest running step, preferring one that streams text;
 * else the newest failed step (where the run broke); else it stays where it
 * is, so the last step stays in view when the run ends.
 */
export function followTarget(state: RunState, current: StepId | null): StepId | null {
  const currentStep = current ? state.steps[current] : undefined;
  if (currentStep && effectiveStatus(currentStep, state) === "running") return current;
  let running: StepId | null = null;
  let failed: StepId | null = null;
  for (let i = state.order.length - 1; i >= 0; i--) {
    const step = state.steps[state.order[i]];
    const status = effectiveStatus(step, state);
    if (status === "failed") failed ??= step.id;
    if (status !== "running") continue;
    if (step.text) return step.id;
    running ??= step.id;
  }
  return running ?? failed ?? current ?? state.lastStarted;
}
