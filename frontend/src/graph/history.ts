/**
 * Undo and redo over whole documents. Every edit pushes the document it
 * produced; edits that come in a stream (typing in one field) share a
 * `coalesce` key and replace the top entry instead of piling up.
 */
export interface History<T> {
  past: T[];
  present: T;
  future: T[];
  /** The coalescing key of the last push. */
  lastKey: string | null;
}

export const HISTORY_LIMIT = 200;

export function createHistory<T>(present: T): History<T> {
  return { past: [], present, future: [], lastKey: null };
}

export function push<T>(history: History<T>, next: T, coalesce: string | null = null): History<T> {
  if (next === history.present) return history;
  if (coalesce && coalesce === history.lastKey && history.past.length) {
    return { ...history, present: next, future: [] };
  }
  const past = [...history.past, history.present];
  if (past.length > HISTORY_LIMIT) past.shift();
  return { past, present: next, future: [], lastKey: coalesce };
}

export function undo<T>(history: History<T>): History<T> {
  if (!history.past.length) return history;
  const present = history.past[history.past.length - 1];
  return { past: history.past.slice(0, -1), present, future: [history.present, ...history.future], lastKey: null };
}

export function redo<T>(history: History<T>): History<T> {
  if (!history.future.length) return history;
  const [present, ...future] = history.future;
  return { past: [...history.past, history.present], present, future, lastKey: null };
}

/** Replaces the present without an undo entry (loading a document, a save's canonical form). */
export function reset<T>(present: T): History<T> {
  return createHistory(present);
}
