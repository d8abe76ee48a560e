/**
 * Step keys. A step is one activation of a node, named by its key:
 * "2" is the node's 2nd activation at the top level (e.g. a loop's 2nd
 * iteration); "each#1[3]/1" is its 1st activation inside item 3 of the 1st
 * activation of fan-out `each`. Fan-outs nest: "a#1[0]/b#2[4]/1".
 * (The scheduler builds them in engine/scheduler.py.)
 */

export interface FrameSegment {
  /** The fan-out node that opened this frame. */
  fanout: string;
  /** That fan-out's activation number, in its own frame. */
  activation: number;
  /** The item index, from 0. */
  index: number;
}

export interface ParsedKey {
  frames: FrameSegment[];
  /** The node's activation number within its innermost frame. */
  number: number;
}

const SEGMENT = /^(.+)#(\d+)\[(\d+)\]$/;

export function parseKey(key: string): ParsedKey {
  const parts = key.split("/");
  const last = parts.pop() ?? "";
  const frames: FrameSegment[] = [];
  for (const part of parts) {
    const match = SEGMENT.exec(part);
    if (match) frames.push({ fanout: match[1], activation: Number(match[2]), index: Number(match[3]) });
  }
  return { frames, number: Number(last) || 0 };
}

export function frameKey(frames: readonly FrameSegment[]): string {
  return frames.map((f) => `${f.fanout}#${f.activation}[${f.index}]/`).join("");
}

/** True for a step at the top level, outside any fan-out. */
export function isRootKey(key: string): boolean {
  return !key.includes("/");
}

/** The key of the fan-out step that opened the innermost frame of `key`, or null at the top level. */
export function openingFanoutStep(key: string): { node: string; key: string } | null {
  const { frames } = parseKey(key);
  const inner = frames[frames.length - 1];
  if (!inner) return null;
  return { node: inner.fanout, key: `${frameKey(frames.slice(0, -1))}${inner.activation}` };
}

/**
 * A short human label: "#2", "item 3", "item 3 · #2" (its 2nd run in that item), "item 0 › item 2".
 * Items are numbered from 0, as `{{ index }}` numbers them in the item's templates:
 * "item 3" is the step that saw `index` 3.
 */
export function describeKey(key: string): string {
  const { frames, number } = parseKey(key);
  const items = frames.map((f) => `item ${f.index}`);
  if (!items.length) return `#${number}`;
  return number > 1 ? `${items.join(" › ")} · #${number}` : items.join(" › ");
}

/** Orders keys by their frames' item indexes, then activation: item 2 before item 10. */
export function compareKeys(a: string, b: string): number {
  const pa = parseKey(a);
  const pb = parseKey(b);
  const depth = Math.max(pa.frames.length, pb.frames.length);
  for (let i = 0; i < depth; i++) {
    const fa = pa.frames[i];
    const fb = pb.frames[i];
    if (!fa) return -1;
    if (!fb) return 1;
    if (fa.activation !== fb.activation) return fa.activation - fb.activation;
    if (fa.index !== fb.index) return fa.index - fb.index;
  }
  return pa.number - pb.number;
}
