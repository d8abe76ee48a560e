/**
 * Where a new node goes so it never lands on top of another: pure helpers
 * for adds from the palette or the keyboard, pastes and duplicates.
 */
import type { NodeDoc, Position, WorkflowDoc } from "./format";

/** Two nodes this close (in flow pixels, both axes) would be drawn on top of each other. */
const TOO_CLOSE = 30;
/** How far below a node the next one goes: a node's height and a gap. */
export const BELOW = 130;
export const STEP = 40;

function occupied(doc: WorkflowDoc, ignore: ReadonlySet<string> = new Set()): Position[] {
  return doc.nodes.filter((n) => !ignore.has(n.id)).map((n) => n.position ?? { x: 0, y: 0 });
}

function clashes(p: Position, taken: readonly Position[]): boolean {
  return taken.some((q) => Math.abs(q.x - p.x) < TOO_CLOSE && Math.abs(q.y - p.y) < TOO_CLOSE);
}

/** `wanted`, or the first spot down and to the right of it (STEP at a time) that no node occupies. */
export function freeSpot(doc: WorkflowDoc, wanted: Position): Position {
  const taken = occupied(doc);
  let p = { x: Math.round(wanted.x), y: Math.round(wanted.y) };
  for (let i = 0; i < 200 && clashes(p, taken); i++) p = { x: p.x + STEP, y: p.y + STEP };
  return p;
}

/** Below `node`, where the next step of a chain goes (then nudged to a free spot). */
export function below(doc: WorkflowDoc, node: NodeDoc): Position {
  const at = node.position ?? { x: 0, y: 0 };
  return freeSpot(doc, { x: at.x, y: at.y + BELOW });
}

/**
 * The offset (the same on both axes, a multiple of STEP) at which copies of
 * `nodes` overlap no node of `doc`: a second paste or duplicate of the same
 * nodes lands beside the first, not on it.
 */
export function freeOffset(doc: WorkflowDoc, nodes: readonly NodeDoc[]): number {
  const taken = occupied(doc);
  for (let k = 1; k < 200; k++) {
    const d = k * STEP;
    if (!nodes.some((n) => clashes({ x: (n.position?.x ?? 0) + d, y: (n.position?.y ?? 0) + d }, taken))) return d;
  }
  return STEP;
}
