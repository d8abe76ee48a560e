/**
 * Unsaved changes kept in the browser (localStorage), per workflow, so a
 * reload or a crash loses nothing. A draft remembers the version it was
 * based on: saving it later still goes through the conflict check.
 */
import type { WorkflowDoc } from "../graph/format";

export interface Draft {
  baseVersion: number | null;
  doc: WorkflowDoc;
  at: string;
}

const key = (workflowId: number | null) => `orchestrator:draft:${workflowId ?? "new"}`;

export function loadDraft(workflowId: number | null): Draft | null {
  try {
    const raw = localStorage.getItem(key(workflowId));
    return raw ? (JSON.parse(raw) as Draft) : null;
  } catch {
    return null;
  }
}

export function storeDraft(workflowId: number | null, draft: Draft): void {
  try {
    localStorage.setItem(key(workflowId), JSON.stringify(draft));
  } catch {
    // storage full or disabled: the beforeunload warning still guards the edits
  }
}

export function clearDraft(workflowId: number | null): void {
  try {
    localStorage.removeItem(key(workflowId));
  } catch {
    // nothing to clear
  }
}

export const CLIPBOARD_KEY = "orchestrator:clipboard";
