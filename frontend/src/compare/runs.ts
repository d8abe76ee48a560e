/**
 * Two runs of a workflow side by side, node by node: what each node did in
 * each run (status, output, tokens, cost, duration) and what differs — the
 * answer to "did my prompt change help?". Pure: tested without a browser.
 */
import type { StepRecord } from "../api/endpoints";
import { sameText } from "./text";

export interface NodeInRun {
  status: string;
  /** The output of the node's last step (a loop's last iteration, a fan-out's last item). */
  output: unknown;
  error: string | null;
  tokens: number;
  cost: number;
  durationMs: number;
  steps: number;
  reused: boolean;
}

export interface NodeComparison {
  node: string;
  a: NodeInRun | null;
  b: NodeInRun | null;
  differs: { status: boolean; output: boolean; tokens: boolean; cost: boolean };
}

function byNode(steps: StepRecord[]): Map<string, NodeInRun> {
  const sorted = [...steps].sort((x, y) => (x.seq ?? 0) - (y.seq ?? 0));
  const result = new Map<string, NodeInRun>();
  for (const s of sorted) {
    const known = result.get(s.node_id);
    const tokens = (s.usage?.tokens_in ?? 0) + (s.usage?.tokens_out ?? 0);
    const entry: NodeInRun = known ?? { status: s.status, output: null, error: null, tokens: 0, cost: 0, durationMs: 0, steps: 0, reused: true };
    entry.steps += 1;
    entry.tokens += tokens;
    entry.cost += s.usage?.cost_usd ?? 0;
    entry.durationMs += s.duration_ms ?? 0;
    entry.reused = entry.reused && !!s.reused;
    if (s.status !== "skipped") {
      // A failure anywhere in the node marks it failed; otherwise the last step that ran speaks.
      entry.status = entry.status === "failed" ? "failed" : s.status;
      if (s.output !== undefined && s.output !== null) entry.output = s.output;
      if (s.error) entry.error = s.error;
    } else if (!known) {
      entry.status = "skipped";
    }
    result.set(s.node_id, entry);
  }
  return result;
}

/** Nodes in `order` first (the graph's order), then any other node either run has. */
export function compareRuns(a: StepRecord[], b: StepRecord[], order: string[] = []): NodeComparison[] {
  const left = byNode(a);
  const right = byNode(b);
  const nodes = [...order.filter((n) => left.has(n) || right.has(n))];
  for (const n of [...left.keys(), ...right.keys()]) if (!nodes.includes(n)) nodes.push(n);
  return nodes.map((node) => {
    const x = left.get(node) ?? null;
    const y = right.get(node) ?? null;
    return {
      node,
      a: x,
      b: y,
      differs: {
        status: x?.status !== y?.status,
        output: !sameText(x?.output, y?.output) || (x?.error ?? null) !== (y?.error ?? null),
        tokens: (x?.tokens ?? 0) !== (y?.tokens ?? 0),
        cost: Math.abs((x?.cost ?? 0) - (y?.cost ?? 0)) > 1e-9,
      },
    };
  });
}
