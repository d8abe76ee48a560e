/**
 * How a run colours the graph's edges: an edge is taken once its source
 * succeeded through its port, not taken when the source went another way.
 */
import type { NodeRun } from "./selectors";

export type EdgeRunState = "idle" | "taken" | "not-taken" | "active";

export function edgeRunState(source: NodeRun | undefined, target: NodeRun | undefined, port: string): EdgeRunState {
  const step = source?.latest;
  if (!step || !step.hasOutput) return "idle";
  const taken = step.ports == null || step.ports.includes(port);
  if (!taken) return "not-taken";
  return target?.status === "running" ? "active" : "taken";
}
