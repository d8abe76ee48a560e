/**
 * The saved workflow and the document being edited: its undo history, the
 * version it is based on, and the draft kept in the browser so a reload or a
 * crash loses nothing.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import type { Boot } from "../boot";
import { clearDraft, loadDraft, storeDraft } from "../editor/drafts";
import { emptyDoc, withPositions } from "../graph/edit";
import type { WorkflowDoc } from "../graph/format";
import { createHistory, push, type History } from "../graph/history";
import type { TypeIndex } from "../graph/nodeTypes";
import { toFlow } from "../graph/toFlow";

export interface Notice {
  text: string;
  tone: "info" | "error";
}

export type SetNotice = (notice: Notice | null | ((n: Notice | null) => Notice | null)) => void;

export function useDocument(workflow: Boot["workflow"], types: TypeIndex, setNotice: SetNotice) {
  const [wfId, setWfId] = useState<number | null>(workflow.id ?? null);
  const [savedVersion, setSavedVersion] = useState<number | null>(workflow.version);
  const initial = useMemo(() => {
    const graph = workflow.graph ?? emptyDoc(workflow.name);
    const positions = new Map(toFlow(graph, types).nodes.map((n) => [n.id, n.position]));
    return withPositions(graph, positions);
  }, [workflow, types]);
  const [savedDoc, setSavedDoc] = useState<WorkflowDoc>(initial);
  const [history, setHistory] = useState<History<WorkflowDoc>>(() => createHistory(initial));
  const doc = history.present;
  const dirty = doc !== savedDoc;

  // A draft left by a reload or a crash comes back, undoable to the saved version.
  const restored = useRef(false);
  useEffect(() => {
    if (restored.current) return;
    restored.current = true;
    const draft = loadDraft(wfId);
    if (!draft) return;
    setHistory((h) => push(h, draft.doc));
    setNotice({
      text: `Restored your unsaved changes from ${new Date(draft.at).toLocaleString()}${draft.baseVersion !== savedVersion ? ` (made on version ${draft.baseVersion}; saving will check for conflicts)` : ""}.`,
      tone: "info",
    });
  }, [wfId, savedVersion, setNotice]);
  /** The version the unsaved draft is based on (what a later save checks conflicts against). */
  const draftBase = useRef(savedVersion);
  useEffect(() => {
    if (!dirty) return void clearDraft(wfId);
    const timer = setTimeout(() => storeDraft(wfId, { baseVersion: draftBase.current, doc, at: new Date().toISOString() }), 300);
    return () => clearTimeout(timer);
  }, [doc, dirty, wfId]);
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const edit = useCallback((change: (d: WorkflowDoc) => WorkflowDoc, coalesce: string | null = null) => {
    setHistory((h) => {
      const next = change(h.present);
      return next === h.present ? h : push(h, next, coalesce);
    });
  }, []);

  return { wfId, setWfId, savedVersion, setSavedVersion, savedDoc, setSavedDoc, history, setHistory, doc, dirty, draftBase, edit };
}

export type DocumentState = ReturnType<typeof useDocument>;
