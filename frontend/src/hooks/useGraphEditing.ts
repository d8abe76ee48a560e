/**
 * Edits of the document from the canvas, the palette and the keyboard: add,
 * remove, copy, paste, duplicate, layout, undo and redo. Each is one undoable
 * edit made with the pure helpers of graph/edit and graph/clipboard.
 */
import { useCallback, type RefObject } from "react";

import { CLIPBOARD_KEY } from "../editor/drafts";
import { autoLayout } from "../editor/layoutDoc";
import { copySelection, parseClipboard, pasteInto } from "../graph/clipboard";
import { connectionProblem } from "../graph/connect";
import { addNode, connect, insertOnEdge, moveNodes, removeElements } from "../graph/edit";
import type { Position } from "../graph/format";
import { redo, undo } from "../graph/history";
import { outputPortsOf, type TypeIndex } from "../graph/nodeTypes";
import { below, freeOffset, freeSpot } from "../graph/placement";
import type { CanvasApi } from "../components/EditorCanvas";
import type { DocumentState, SetNotice } from "./useDocument";
import type { SelectionState } from "./useSelection";

export function useGraphEditing(opts: {
  d: DocumentState;
  sel: SelectionState;
  types: TypeIndex;
  editable: boolean;
  canvas: RefObject<CanvasApi | null>;
  setNotice: SetNotice;
  /** A node was added: open its settings. */
  onAdded: (id: string) => void;
}) {
  const { d, sel, types, editable, canvas, setNotice, onAdded } = opts;
  const { doc, edit, setHistory } = d;
  const { selection, selectedEdges, setSelection, setSelectedEdges } = sel;

  const addAt = useCallback(
    (type: string, position: Position, edgeIndex: number | null = null) => {
      if (!editable) return;
      let added = "";
      edit((g) => {
        const result = addNode(g, type, position, types.get(type));
        added = result.id;
        if (edgeIndex == null) return result.doc;
        const node = result.doc.nodes.find((n) => n.id === result.id)!;
        const desc = types.get(type);
        return desc?.has_input === false ? result.doc : insertOnEdge(result.doc, edgeIndex, result.id, outputPortsOf(node, desc)[0]);
      });
      setSelection(new Set([added]));
      onAdded(added);
    },
    [edit, editable, types, setSelection, onAdded],
  );
  /** Add a node connected from `source`'s `port` (the picker of a dropped edge; a keyboard add after the selected node). */
  const addConnected = useCallback(
    (type: string, position: Position, source: string, port: string) => {
      if (!editable) return;
      let added = "";
      let refused: string | null = null;
      edit((g) => {
        const result = addNode(g, type, freeSpot(g, position), types.get(type));
        added = result.id;
        refused = connectionProblem(result.doc, types, { source, port, target: result.id });
        return refused ? result.doc : connect(result.doc, source, port, result.id);
      });
      if (refused) setNotice({ text: `Added, not connected: ${refused}`, tone: "error" });
      setSelection(new Set([added]));
      onAdded(added);
    },
    [edit, editable, types, setSelection, onAdded, setNotice],
  );
  /**
   * From the palette (a click, or Enter on an entry) or the N key: with one
   * node selected, the new one goes below it, connected from its first
   * output port when that connection is allowed; otherwise in the middle of
   * the view. Never on top of another node.
   */
  const addFromPalette = useCallback(
    (type: string) => {
      const only = selection.size === 1 ? doc.nodes.find((n) => selection.has(n.id)) : undefined;
      const desc = types.get(type);
      if (only && desc?.has_input !== false) {
        const port = outputPortsOf(only, types.get(only.type))[0];
        if (port) return addConnected(type, below(doc, only), only.id, port);
      }
      const c = canvas.current?.center() ?? { x: 0, y: 0 };
      addAt(type, freeSpot(doc, { x: c.x - 108, y: c.y - 36 }));
    },
    [addAt, addConnected, doc, selection, types, canvas],
  );
  const removeSelected = useCallback(() => {
    if (!editable || (!selection.size && !selectedEdges.size)) return;
    edit((g) => removeElements(g, selection, selectedEdges));
    setSelection(new Set());
    setSelectedEdges(new Set());
  }, [edit, editable, selection, selectedEdges, setSelection, setSelectedEdges]);
  const copyNow = useCallback(() => {
    const copied = copySelection(doc, selection);
    if (!copied) return null;
    const text = JSON.stringify(copied, null, 2);
    try {
      localStorage.setItem(CLIPBOARD_KEY, text);
    } catch {
      // the system clipboard still has it
    }
    navigator.clipboard?.writeText(text).catch(() => {});
    return text;
  }, [doc, selection]);
  /** Paste copied nodes (new ids where they collide) and select them; one undoable edit. */
  const insertCopy = useCallback(
    (copied: NonNullable<ReturnType<typeof parseClipboard>>) => {
      let ids: string[] = [];
      // At the mouse when it is over the canvas; else beside the originals, past any earlier copy.
      const at = canvas.current?.pointer() ?? null;
      edit((g) => {
        const result = at ? pasteInto(g, copied, freeSpot(g, at)) : pasteInto(g, copied, null, freeOffset(g, copied.nodes));
        ids = result.ids;
        return result.doc;
      });
      setSelection(new Set(ids));
      return ids;
    },
    [edit, setSelection, canvas],
  );
  const pasteText = useCallback(
    (text: string | null) => {
      const copied = text ? parseClipboard(text) : null;
      if (!copied || !editable) return false;
      const ids = insertCopy(copied);
      setNotice({ text: `Pasted ${ids.length} node${ids.length === 1 ? "" : "s"}.`, tone: "info" });
      return true;
    },
    [insertCopy, editable, setNotice],
  );
  /** Ctrl+D: copies beside the originals (past any earlier copy), never at the mouse. */
  const duplicate = useCallback(() => {
    const copied = copySelection(doc, selection);
    if (!copied || !editable) return;
    let ids: string[] = [];
    edit((g) => {
      const result = pasteInto(g, copied, null, freeOffset(g, copied.nodes));
      ids = result.ids;
      return result.doc;
    });
    setSelection(new Set(ids));
  }, [doc, selection, edit, editable, setSelection]);
  const layout = useCallback(() => {
    if (!editable) return;
    edit((g) => moveNodes(g, autoLayout(g, types)));
    setTimeout(() => canvas.current?.fitView(), 50);
  }, [edit, editable, types, canvas]);
  const doUndo = useCallback(() => setHistory((h) => undo(h)), [setHistory]);
  const doRedo = useCallback(() => setHistory((h) => redo(h)), [setHistory]);

  return { addAt, addConnected, addFromPalette, removeSelected, copyNow, pasteText, duplicate, layout, doUndo, doRedo };
}

export type GraphEditing = ReturnType<typeof useGraphEditing>;
