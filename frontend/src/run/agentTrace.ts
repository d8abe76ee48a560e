/**
 * An agent step as readable cards: thought, tool call with its arguments,
 * observation, answer. Two sources, one shape: while the agent works, the
 * text it streams (engine/nodes/agent.py writes "\n[think N] …",
 * "\n[act] tool(args)", "\n[observe] …" around the model's words); once it is
 * done, the structured `output.trace` it recorded, which is the truth.
 */

export type AgentCard =
  | { kind: "thought"; iteration: number; text: string }
  | { kind: "call"; iteration: number; tool: string; args: string; ok?: boolean }
  | { kind: "observation"; iteration: number; text: string; ok?: boolean }
  | { kind: "answer"; iteration: number; text: string };

const MARKER = /\n\[(think (\d+)|act|observe)\] /g;

/** Cards from the streamed text (the last card may still be growing). */
export function cardsFromStream(text: string): AgentCard[] {
  const cards: AgentCard[] = [];
  const marks = [...text.matchAll(MARKER)];
  let iteration = 0;
  marks.forEach((mark, i) => {
    const start = (mark.index ?? 0) + mark[0].length;
    const end = i + 1 < marks.length ? marks[i + 1].index ?? text.length : text.length;
    const body = text.slice(start, end);
    if (mark[2]) {
      iteration = Number(mark[2]);
      if (body.trim()) cards.push({ kind: "thought", iteration, text: body });
    } else if (mark[1] === "act") {
      const call = /^([^(]*)\(([\s\S]*)\)$/.exec(body.trim());
      cards.push({ kind: "call", iteration, tool: call ? call[1] : body.trim(), args: call ? call[2] : "" });
    } else {
      cards.push({ kind: "observation", iteration, text: body });
    }
  });
  return cards;
}

interface TraceEntry {
  iteration?: number;
  kind?: string;
  text?: string;
  thought?: string;
  tool?: string;
  arguments?: unknown;
  observation?: unknown;
  ok?: boolean;
}

/** The agent's recorded trace, when `output` is an agent's output ({trace: [...]}); else null. */
export function cardsFromOutput(output: unknown): AgentCard[] | null {
  const trace = (output as { trace?: unknown } | null)?.trace;
  if (!Array.isArray(trace)) return null;
  const cards: AgentCard[] = [];
  let lastThought = "";
  for (const raw of trace as TraceEntry[]) {
    const iteration = raw.iteration ?? 0;
    if (raw.kind === "answer") {
      cards.push({ kind: "answer", iteration, text: String(raw.text ?? "") });
      continue;
    }
    // One model turn may call several tools; its thought is shown once.
    const thought = String(raw.thought ?? "");
    if (thought.trim() && `${iteration}:${thought}` !== lastThought) cards.push({ kind: "thought", iteration, text: thought });
    lastThought = `${iteration}:${thought}`;
    const args = typeof raw.arguments === "string" ? raw.arguments : JSON.stringify(raw.arguments ?? {});
    cards.push({ kind: "call", iteration, tool: String(raw.tool ?? "?"), args, ok: raw.ok });
    cards.push({ kind: "observation", iteration, text: typeof raw.observation === "string" ? raw.observation : JSON.stringify(raw.observation, null, 2), ok: raw.ok });
  }
  return cards;
}

/** Arguments as indented JSON when they parse, else as they came. */
export function prettyArgs(args: string): string {
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}
