/**
 * Saving the document as a new version (with the conflict check against the
 * version it is based on), saving a copy after a conflict, export and import.
 */
import { useCallback, useState } from "react";

import { ApiError } from "../api/client";
import { createWorkflow, getWorkflow, importWorkflow, saveWorkflow } from "../api/endpoints";
import type { Boot } from "../boot";
import { clearDraft } from "../editor/drafts";
import type { WorkflowDoc } from "../graph/format";
import { push, reset } from "../graph/history";
import type { DocumentState, SetNotice } from "./useDocument";

export function messageOf(exc: unknown): string {
  return exc instanceof ApiError || exc instanceof Error ? exc.message : String(exc);
}

export interface Conflict {
  theirs: WorkflowDoc;
  version: number;
  message: string;
}

/** `onSaved`: a new version was saved (the editor then shows it, whatever run is open). */
export function usePersistence(workflow: Boot["workflow"], d: DocumentState, setNotice: SetNotice, onSaved?: (version: number) => void) {
  const { doc, savedVersion, wfId, setWfId, setSavedVersion, setSavedDoc, setHistory, draftBase } = d;
  const [saving, setSaving] = useState(false);
  const [saveMessage, setSaveMessage] = useState("");
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const save = useCallback(
    async (toSave: WorkflowDoc = doc, base: number | null = savedVersion, message = saveMessage): Promise<number | null> => {
      setSaving(true);
      let version: number | null = null;
      try {
        if (wfId == null) {
          const created = await createWorkflow({ name: toSave.name, description: toSave.description ?? "", graph: toSave, team: workflow.team, message });
          clearDraft(null);
          setWfId(created.id);
          setSavedVersion(created.version);
          version = created.version;
          draftBase.current = created.version;
          window.history.replaceState(window.history.state, "", `/workflows/${created.id}/`);
          document.title = `${toSave.name} · Orchestrator`;
        } else {
          const saved = await saveWorkflow(wfId, { graph: toSave, name: toSave.name, description: toSave.description ?? "", message, base_version: base });
          setSavedVersion(saved.version);
          version = saved.version;
          draftBase.current = saved.version;
          clearDraft(wfId);
        }
        if (version != null) onSaved?.(version);
        setSavedDoc(toSave);
        setSaveMessage("");
        setNotice({ text: "Saved.", tone: "info" });
        setTimeout(() => setNotice((n) => (n?.text === "Saved." ? null : n)), 2500);
      } catch (exc) {
        if (exc instanceof ApiError && (exc.status === 409 || exc.status === 428) && wfId != null) {
          const theirs = await getWorkflow(wfId);
          setConflict({ theirs: theirs.graph, version: theirs.version, message: exc.message });
        } else {
          setNotice({ text: `Not saved: ${messageOf(exc)}`, tone: "error" });
        }
      } finally {
        setSaving(false);
      }
      return version;
    },
    [doc, savedVersion, saveMessage, wfId, workflow.team, setWfId, setSavedVersion, setSavedDoc, draftBase, setNotice, onSaved],
  );
  const saveCopy = useCallback(async () => {
    try {
      const copy = { ...doc, name: `${doc.name} (copy)` };
      const created = await createWorkflow({ name: copy.name, description: copy.description ?? "", graph: copy, team: workflow.team, message: "Saved as a copy after a conflict" });
      clearDraft(wfId);
      setSavedDoc(doc);
      window.location.href = `/workflows/${created.id}/`;
    } catch (exc) {
      setNotice({ text: `Not saved: ${messageOf(exc)}`, tone: "error" });
    }
  }, [doc, wfId, workflow.team, setSavedDoc, setNotice]);

  /** The conflict dialog's outcomes: save a merge on top of theirs, or drop mine for theirs. */
  const mergeConflict = useCallback(
    (merged: WorkflowDoc) => {
      if (!conflict) return;
      setConflict(null);
      setHistory((h) => push(h, merged));
      setSavedVersion(conflict.version);
      void save(merged, conflict.version, saveMessage || "Merged with a concurrent change");
    },
    [conflict, save, saveMessage, setHistory, setSavedVersion],
  );
  const takeTheirs = useCallback(() => {
    if (!conflict) return;
    setConflict(null);
    setSavedDoc(conflict.theirs);
    setSavedVersion(conflict.version);
    draftBase.current = conflict.version;
    setHistory(reset(conflict.theirs));
  }, [conflict, setSavedDoc, setSavedVersion, draftBase, setHistory]);

  const exportFile = useCallback(() => {
    const blob = new Blob([JSON.stringify(doc, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${doc.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "workflow"}.json`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, [doc]);
  const [importing, setImporting] = useState(false);
  const importText = useCallback(
    async (text: string) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (exc) {
        setNotice({ text: `Not JSON: ${(exc as Error).message}`, tone: "error" });
        return;
      }
      try {
        const created = await importWorkflow(parsed);
        window.location.href = `/workflows/${created.id}/`;
      } catch (exc) {
        setNotice({ text: `Not imported: ${messageOf(exc)}`, tone: "error" });
      }
    },
    [setNotice],
  );

  return { saving, saveMessage, setSaveMessage, save, saveCopy, conflict, setConflict, mergeConflict, takeTheirs, exportFile, importing, setImporting, importText };
}
