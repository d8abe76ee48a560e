/** The editor's keyboard shortcuts and the clipboard events, outside fields and dialogs. */
import { useEffect, useRef, type RefObject } from "react";

import { CLIPBOARD_KEY } from "../editor/drafts";
import type { WorkflowDoc } from "../graph/format";
import type { CanvasApi } from "../components/EditorCanvas";
import type { GraphEditing } from "./useGraphEditing";

/** Typing in a field, a code editor or a dialog: the canvas's shortcuts stay out of the way. */
export function inEditable(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.closest) return false;
  return !!el.closest("input, textarea, select, [contenteditable=true], .cm-editor, .dialog");
}

export interface KeyActions extends GraphEditing {
  save: () => unknown;
  selectAll: () => void;
  escape: () => void;
  closeDialogs: () => void;
  toggleHelp: () => void;
  /** Ctrl+F: the node finder. */
  find: () => void;
  /** Z: fit the selected nodes in view. */
  zoomToSelection: () => void;
  doc: WorkflowDoc;
  editable: boolean;
}

export function useEditorKeys(actions: KeyActions, canvas: RefObject<CanvasApi | null>): void {
  const pasted = useRef(false);
  const keys = useRef(actions);
  keys.current = actions;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const k = keys.current;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === "s") {
        e.preventDefault();
        void k.save();
        return;
      }
      // Escape closes an open dialog wherever the focus is in it.
      if (e.key === "Escape" && document.querySelector(".dialog")) {
        k.closeDialogs();
        return;
      }
      if (inEditable(e.target)) return;
      const key = e.key.toLowerCase();
      if (mod && key === "z" && !e.shiftKey) (e.preventDefault(), k.doUndo());
      else if (mod && (key === "y" || (key === "z" && e.shiftKey))) (e.preventDefault(), k.doRedo());
      else if (mod && key === "c") k.copyNow();
      else if (mod && key === "x") {
        if (k.copyNow()) k.removeSelected();
      } else if (mod && key === "v") {
        // The paste event brings the system clipboard; without one (another app's
        // focus rules, a headless browser) the last copy in this browser is used.
        pasted.current = false;
        setTimeout(() => !pasted.current && k.pasteText(localStorage.getItem(CLIPBOARD_KEY)), 120);
      } else if (mod && key === "d") (e.preventDefault(), k.duplicate());
      else if (mod && key === "a") (e.preventDefault(), k.selectAll());
      else if (mod && key === "f") (e.preventDefault(), k.find());
      else if (mod) return;
      else if (key === "delete" || key === "backspace") (e.preventDefault(), k.removeSelected());
      else if (key === "escape") k.escape();
      else if (e.key === "?") k.toggleHelp();
      else if (key === "l" && k.editable) k.layout();
      else if (key === "f") canvas.current?.fitView();
      else if (key === "z") k.zoomToSelection();
      else if (key === "n" && k.editable) k.addFromPalette("note");
    };
    const onPaste = (e: ClipboardEvent) => {
      if (inEditable(e.target)) return;
      if (keys.current.pasteText(e.clipboardData?.getData("text/plain") ?? null)) {
        pasted.current = true;
        e.preventDefault();
      }
    };
    const onCopy = (e: ClipboardEvent) => {
      if (inEditable(e.target)) return;
      const text = keys.current.copyNow();
      if (text && e.clipboardData) {
        e.clipboardData.setData("text/plain", text);
        e.preventDefault();
      }
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("paste", onPaste);
    document.addEventListener("copy", onCopy);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("paste", onPaste);
      document.removeEventListener("copy", onCopy);
    };
  }, [canvas]);
}
