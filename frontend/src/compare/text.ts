/**
 * Text diffs for people: which words (short text) or lines (long text)
 * changed between two values, with the `diff` library (jsdiff). Values that
 * are not text are compared as their pretty-printed JSON.
 */
import { diffLines, diffWordsWithSpace } from "diff";

export interface DiffPart {
  text: string;
  kind: "same" | "added" | "removed";
}

export function asText(value: unknown): string {
  if (value == null) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** Over this many characters (or with many lines), diff line by line: word diffs of long text are noise. */
const WORD_DIFF_LIMIT = 4000;

export function textDiff(before: unknown, after: unknown): DiffPart[] {
  const a = asText(before);
  const b = asText(after);
  const byLine = a.length + b.length > WORD_DIFF_LIMIT || a.split("\n").length > 40 || b.split("\n").length > 40;
  const changes = byLine ? diffLines(a, b) : diffWordsWithSpace(a, b);
  return changes.map((c) => ({ text: c.value, kind: c.added ? "added" : c.removed ? "removed" : "same" }));
}

export function sameText(before: unknown, after: unknown): boolean {
  return asText(before) === asText(after);
}
