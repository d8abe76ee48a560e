/**
 * The workflow editor: the palette and the run's inputs on the left, the
 * canvas in the middle, the selected node's settings, the workflow's
 * settings, the open run, its timeline and the version history on the right.
 * State is split by concern: the document and its undo history, the saved
 * version it is based on, the selection, validation, and the open run.
 */
import { ReactFlowProvider } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { ApiError } from "../api/client";
import {
  cancelRun,
  createWorkflow,
  getVersion,
  getWorkflow,
  importWorkflow,
  listRuns,
  RUNS_PAGE,
  rerunFrom,
  saveWorkflow,
  startRun,
  validateGraph,
  type ValidationResult,
} from "../api/endpoints";
import type { Boot } from "../boot";
import { clearDraft, CLIPBOARD_KEY, loadDraft, storeDraft } from "../editor/drafts";
import { autoLayout } from "../editor/layoutDoc";
import { copySelection, parseClipboard, pasteInto } from "../graph/clipboard";
import type { DocDiff } from "../graph/diff";
import { addNode, connect, emptyDoc, insertOnEdge, moveNodes, removeElements, renameId, updateNode, withPositions } from "../graph/edit";
import { displayName, type NodeDoc, type Position, type WorkflowDoc } from "../graph/format";
import { createHistory, push, redo, reset, undo, type History } from "../graph/history";
import { indexTypes, outputPortsOf } from "../graph/nodeTypes";
import { toFlow } from "../graph/toFlow";
import { formatCost, formatDuration, formatTokens } from "../format";
import { useRun } from "../hooks/useRun";
import type { RunState, StepId } from "../run/reducer";
import { followTarget, summarizeNodes } from "../run/selectors";
import { isRunFinished, type RunSummary } from "../run/types";
import { ConfigPanel } from "./ConfigPanel";
import { ConflictDialog } from "./ConflictDialog";
import { PresenceBar, SavedBanner, usePresence, type SavedEvent } from "./TeamPresence";
import { EditorCanvas, type CanvasApi } from "./EditorCanvas";
import { InputForm } from "./InputForm";
import { Palette } from "./Palette";
import { RunHistory } from "./RunHistory";
import { RunPanel } from "./RunPanel";
import { ShortcutHelp } from "./ShortcutHelp";
import { StepInspector } from "./StepInspector";
import { Timeline } from "./Timeline";
import { VersionHistory } from "./VersionHistory";
import { WorkflowPanel } from "./WorkflowPanel";

const HISTORY_REFRESH_MS = 15000;
const VALIDATE_DEBOUNCE_MS = 350;

function messageOf(exc: unknown): string {
  return exc instanceof ApiError || exc instanceof Error ? exc.message : String(exc);
}

/** Runs known and a fresh page of them, by id (the page's newer data wins), newest first. */
function mergeRuns(known: RunSummary[] | null, page: RunSummary[]): RunSummary[] {
  const byId = new Map((known ?? []).map((r) => [r.id, r]));
  for (const r of page) byId.set(r.id, r);
  return [...byId.values()].sort((a, b) => b.id - a.id);
}

function rememberRun(runId: number | null): void {
  const url = new URL(window.location.href);
  if (runId == null) url.searchParams.delete("run");
  else url.searchParams.set("run", String(runId));
  window.history.replaceState(window.history.state, "", url);
}

/** Typing in a field, a code editor or a dialog: the canvas's shortcuts stay out of the way. */
function inEditable(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.closest) return false;
  return !!el.closest("input, textarea, select, [contenteditable=true], .cm-editor, .dialog");
}

type RightTab = "node" | "run" | "timeline" | "workflow" | "versions";
type LeftTab = "build" | "run";

interface Conflict {
  theirs: WorkflowDoc;
  version: number;
  message: string;
}

export function App(props: { boot: Boot }) {
  return (
    <ReactFlowProvider>
      <Editor {...props} />
    </ReactFlowProvider>
  );
}

function Editor({ boot }: { boot: Boot }) {
  const { workflow, demoMode } = boot;
  // An owner may change the role while the page is open: presence tells us.
  const [canEdit, setCanEdit] = useState(boot.canRun);
  const askOwners = boot.owners?.length ? boot.owners.join(" or ") : "an owner";
  const types = useMemo(() => indexTypes(boot.nodeTypes), [boot.nodeTypes]);

  // ---- the saved workflow, and the document being edited
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
  const [notice, setNotice] = useState<{ text: string; tone: "info" | "error" } | null>(null);

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
  }, [wfId, savedVersion]);
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

  // ---- validation: the server's, debounced as the user edits
  const [validation, setValidation] = useState<ValidationResult | null>(null);
  const [validationError, setValidationError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      validateGraph(doc)
        .then((r) => live && (setValidation(r), setValidationError(null)))
        .catch((exc) => live && setValidationError(`Cannot check the workflow: ${messageOf(exc)}`));
    }, VALIDATE_DEBOUNCE_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [doc]);
  const { nodeProblems, edgeProblems, generalProblems } = useMemo(() => {
    const byNode = new Map<string, string[]>();
    const byEdge = new Map<number, string>();
    const general: string[] = [];
    for (const p of validation?.errors ?? []) {
      if (p.node && doc.nodes.some((n) => n.id === p.node)) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p.message]);
      else if (p.edge != null) byEdge.set(p.edge, p.message);
      else general.push(p.message);
    }
    return { nodeProblems: byNode, edgeProblems: byEdge, generalProblems: general };
  }, [validation, doc.nodes]);
  const valid = validation?.valid ?? false;

  // ---- selection
  const [selection, setSelection] = useState<Set<string>>(new Set());
  const [selectedEdges, setSelectedEdges] = useState<Set<number>>(new Set());
  const canvas = useRef<CanvasApi | null>(null);

  // ---- the open run
  const [runId, setRunId] = useState<number | null>(boot.runId);
  const [runHint, setRunHint] = useState<Partial<RunSummary> | null>(null);
  const { run, connection } = useRun(runId, runHint);
  const nodeRuns = useMemo(() => summarizeNodes(run), [run]);
  const runActive = runId != null && !isRunFinished(run.status);

  // A past run is drawn on the graph of the version it ran, read-only.
  const ownRun = run.run != null && (run.run.workflow == null || run.run.workflow === wfId);
  const runVersion = ownRun ? (run.run?.version ?? null) : null;
  const [versionGraphs, setVersionGraphs] = useState<Record<number, WorkflowDoc>>({});
  const [showRunVersion, setShowRunVersion] = useState(true);
  useEffect(() => {
    if (wfId == null || runVersion == null || runVersion === savedVersion || versionGraphs[runVersion]) return;
    let live = true;
    getVersion(wfId, runVersion)
      .then((v) => live && setVersionGraphs((all) => ({ ...all, [runVersion]: v.graph })))
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [runVersion, wfId, savedVersion, versionGraphs]);
  const [diffView, setDiffView] = useState<{ diff: DocDiff; graph: WorkflowDoc } | null>(null);
  const otherVersion = runVersion != null && runVersion !== savedVersion && showRunVersion ? versionGraphs[runVersion] : undefined;
  const shownDoc = diffView?.graph ?? otherVersion ?? doc;
  const editable = canEdit && shownDoc === doc;
  const marks = useMemo(() => {
    const m = new Map<string, "added" | "changed">();
    diffView?.diff.added.forEach((id) => m.set(id, "added"));
    diffView?.diff.changed.forEach((id) => m.set(id, "changed"));
    return m;
  }, [diffView]);
  const nodeName = useCallback(
    (id: string) => {
      const node = shownDoc.nodes.find((n) => n.id === id);
      return node ? displayName(node) : id;
    },
    [shownDoc],
  );

  // ---- panels
  const [leftTab, setLeftTab] = useState<LeftTab>(workflow.graph ? "run" : "build");
  const [rightTab, setRightTab] = useState<RightTab>(boot.runId != null ? "run" : workflow.graph ? "run" : "workflow");
  const [help, setHelp] = useState(false);

  // ---- step inspection: a picked node, or "follow live"
  const [pick, setPick] = useState<{ node: string | null; key: string | null }>({ node: null, key: null });
  const [following, setFollowing] = useState(true);
  const [followed, setFollowed] = useState<StepId | null>(null);
  useEffect(() => {
    if (!following) return;
    const target = followTarget(run, followed && run.steps[followed] ? followed : null);
    if (target !== followed) setFollowed(target);
  }, [run, following, followed]);
  const followedStep = following && followed ? run.steps[followed] : undefined;
  const inspectedNode = followedStep ? followedStep.node : pick.node;
  const inspectedKey = followedStep ? followedStep.key : pick.key;

  const openNode = useCallback(
    (node: string | null) => {
      setFollowing(false);
      setPick({ node, key: null });
      if (node) setRightTab((tab) => (tab === "run" || tab === "timeline" ? (runId != null ? "run" : "node") : "node"));
    },
    [runId],
  );
  const selectKey = useCallback(
    (key: string) => {
      setFollowing(false);
      setPick({ node: inspectedNode, key });
    },
    [inspectedNode],
  );
  const toggleFollow = useCallback(() => {
    setFollowing((on) => !on);
    setPick((p) => ({ ...p, node: inspectedNode, key: null }));
  }, [inspectedNode]);
  const onSelectionChange = useCallback((ids: Set<string>, edges: Set<number>) => {
    setSelection(ids);
    setSelectedEdges(edges);
    if (ids.size === 1) setPick({ node: [...ids][0], key: null });
  }, []);

  // ---- run history
  // Every run loaded so far, newest first: the periodic refresh merges the
  // newest page in by id, so older pages the user loaded stay, and runs that
  // slide off the newest page meanwhile are kept.
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [hasOlderRuns, setHasOlderRuns] = useState(false);
  const [runsError, setRunsError] = useState<string | null>(null);
  const runsOf = useRef<number | null>(null); // the workflow `runs` belong to
  const reloadRuns = useCallback(() => {
    if (wfId == null) return setRuns([]);
    listRuns(wfId)
      .then((page) => {
        if (runsOf.current !== wfId) {
          runsOf.current = wfId;
          setRuns(page);
          setHasOlderRuns(page.length === RUNS_PAGE);
        } else {
          setRuns((known) => mergeRuns(known, page));
        }
        setRunsError(null);
      })
      .catch((exc) => setRunsError(`Cannot load the runs: ${messageOf(exc)}`));
  }, [wfId]);
  const loadOlderRuns = useCallback(() => {
    const oldest = runs?.[runs.length - 1];
    if (wfId == null || !oldest) return;
    listRuns(wfId, oldest.id)
      .then((page) => {
        if (runsOf.current !== wfId) return; // another workflow is open now
        setRuns((known) => mergeRuns(known, page));
        setHasOlderRuns(page.length === RUNS_PAGE);
      })
      .catch((exc) => setRunsError(`Cannot load older runs: ${messageOf(exc)}`));
  }, [wfId, runs]);
  useEffect(reloadRuns, [reloadRuns, runId, run.status]);
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === "visible" && reloadRuns(), HISTORY_REFRESH_MS);
    return () => clearInterval(timer);
  }, [reloadRuns]);

  const openRun = useCallback((summary: RunSummary | { id: number }, hint: Partial<RunSummary> | null = null, follow = true) => {
    setRunHint(hint ?? ("status" in summary ? summary : null));
    setRunId(summary.id);
    setFollowed(null);
    setFollowing(follow);
    setShowRunVersion(true);
    setRightTab("run");
    rememberRun(summary.id);
  }, []);

  // ---- starting, re-running, cancelling
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<string | null>(null);
  const startNewRun = useCallback(
    async (input: Record<string, unknown>) => {
      if (wfId == null) return;
      setStarting(true);
      setStartError(null);
      try {
        const created = await startRun(wfId, input);
        openRun({ id: created.id }, { status: created.status, version: created.version }, true);
      } catch (exc) {
        setStartError(messageOf(exc));
      } finally {
        setStarting(false);
      }
    },
    [wfId, openRun],
  );
  const rerun = useCallback(
    async (node: string) => {
      if (runId == null) return;
      try {
        const created = await rerunFrom(runId, node);
        openRun({ id: created.id }, { status: created.status, version: created.version }, true);
      } catch (exc) {
        setNotice({ text: `Cannot re-run from ${node}: ${messageOf(exc)}`, tone: "error" });
      }
    },
    [runId, openRun],
  );
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState<string | null>(null);
  useEffect(() => {
    setCancelling(false);
    setCancelError(null);
  }, [runId]);
  const cancel = useCallback(async () => {
    if (runId == null) return;
    setCancelling(true);
    setCancelError(null);
    try {
      await cancelRun(runId);
    } catch (exc) {
      setCancelError(messageOf(exc));
      setCancelling(false);
    }
  }, [runId]);

  // ---- saving
  const [saving, setSaving] = useState(false);
  const [saveMessage, setSaveMessage] = useState("");
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const save = useCallback(
    async (toSave: WorkflowDoc = doc, base: number | null = savedVersion, message = saveMessage) => {
      setSaving(true);
      try {
        if (wfId == null) {
          const created = await createWorkflow({ name: toSave.name, description: toSave.description ?? "", graph: toSave, team: workflow.team, message });
          clearDraft(null);
          setWfId(created.id);
          setSavedVersion(created.version);
          draftBase.current = created.version;
          window.history.replaceState(window.history.state, "", `/workflows/${created.id}/`);
          document.title = `${toSave.name} · Orchestrator`;
        } else {
          const saved = await saveWorkflow(wfId, { graph: toSave, name: toSave.name, description: toSave.description ?? "", message, base_version: base });
          setSavedVersion(saved.version);
          draftBase.current = saved.version;
          clearDraft(wfId);
        }
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
    },
    [doc, savedVersion, saveMessage, wfId, workflow.team],
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
  }, [doc, wfId, workflow.team]);

  // ---- edits
  const addAt = useCallback(
    (type: string, position: Position, edgeIndex: number | null = null) => {
      if (!editable) return;
      let added = "";
      edit((d) => {
        const result = addNode(d, type, position, types.get(type));
        added = result.id;
        if (edgeIndex == null) return result.doc;
        const node = result.doc.nodes.find((n) => n.id === result.id)!;
        const desc = types.get(type);
        return desc?.has_input === false ? result.doc : insertOnEdge(result.doc, edgeIndex, result.id, outputPortsOf(node, desc)[0]);
      });
      setSelection(new Set([added]));
      setPick({ node: added, key: null });
      setFollowing(false);
      setRightTab("node");
    },
    [edit, editable, types],
  );
  const addFromPalette = useCallback(
    (type: string) => {
      const c = canvas.current?.center() ?? { x: 0, y: 0 };
      const jitter = (doc.nodes.length % 5) * 24;
      addAt(type, { x: c.x - 108 + jitter, y: c.y - 36 + jitter });
    },
    [addAt, doc.nodes.length],
  );
  const removeSelected = useCallback(() => {
    if (!editable || (!selection.size && !selectedEdges.size)) return;
    edit((d) => removeElements(d, selection, selectedEdges));
    setSelection(new Set());
    setSelectedEdges(new Set());
  }, [edit, editable, selection, selectedEdges]);
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
      edit((d) => {
        const result = pasteInto(d, copied);
        ids = result.ids;
        return result.doc;
      });
      setSelection(new Set(ids));
      return ids;
    },
    [edit],
  );
  const pasteText = useCallback(
    (text: string | null) => {
      const copied = text ? parseClipboard(text) : null;
      if (!copied || !editable) return false;
      const ids = insertCopy(copied);
      setNotice({ text: `Pasted ${ids.length} node${ids.length === 1 ? "" : "s"}.`, tone: "info" });
      return true;
    },
    [insertCopy, editable],
  );
  const duplicate = useCallback(() => {
    const copied = copySelection(doc, selection);
    if (copied && editable) insertCopy(copied);
  }, [doc, selection, insertCopy, editable]);
  const layout = useCallback(() => {
    if (!editable) return;
    edit((d) => moveNodes(d, autoLayout(d, types)));
    setTimeout(() => canvas.current?.fitView(), 50);
  }, [edit, editable, types]);
  const doUndo = useCallback(() => setHistory((h) => undo(h)), []);
  const doRedo = useCallback(() => setHistory((h) => redo(h)), []);

  // ---- keyboard and clipboard
  const pasted = useRef(false);
  const keys = useRef({ save, removeSelected, copyNow, pasteText, duplicate, layout, doUndo, doRedo, addFromPalette, selection, doc, editable });
  keys.current = { save, removeSelected, copyNow, pasteText, duplicate, layout, doUndo, doRedo, addFromPalette, selection, doc, editable };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const k = keys.current;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === "s") {
        e.preventDefault();
        void k.save();
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
      else if (mod && key === "a") (e.preventDefault(), setSelection(new Set(k.doc.nodes.map((n) => n.id))));
      else if (mod) return;
      else if (key === "delete" || key === "backspace") (e.preventDefault(), k.removeSelected());
      else if (key === "escape") (setSelection(new Set()), setSelectedEdges(new Set()), setHelp(false));
      else if (e.key === "?") setHelp((h) => !h);
      else if (key === "l" && k.editable) k.layout();
      else if (key === "f") canvas.current?.fitView();
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
  }, []);

  // ---- export and import
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
  const importText = useCallback(async (text: string) => {
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
  }, []);

  // ---- teammates: who is here, their saves as they land, my role as it changes
  const [teammateSave, setTeammateSave] = useState<SavedEvent | null>(null);
  const presence = usePresence(wfId, {
    editing: dirty && canEdit,
    onRole: (role, can) => {
      setCanEdit(can);
      setNotice({ text: can ? `Your role is now ${role}: you can edit and run this workflow.` : `Your role is now ${role}: you can look, but not change or run it (ask ${askOwners}).`, tone: "info" });
    },
    onSaved: (event) => {
      if (event.mine || (savedVersionRef.current != null && event.version <= savedVersionRef.current)) return;
      setTeammateSave(event);
    },
    onGone: () => {
      setCanEdit(false);
      setNotice({ text: "You no longer have access to this workflow (removed from its team, or it moved). Reload to see where you stand.", tone: "error" });
    },
  });
  const savedVersionRef = useRef(savedVersion);
  savedVersionRef.current = savedVersion;
  const showTeammateSave = useCallback(async () => {
    if (wfId == null || !teammateSave) return;
    setTeammateSave(null);
    const theirs = await getWorkflow(wfId);
    if (!dirty) {
      // Nothing of mine to merge: take their version as it is.
      setSavedDoc(theirs.graph);
      setSavedVersion(theirs.version);
      draftBase.current = theirs.version;
      setHistory(reset(theirs.graph));
      setNotice({ text: `Loaded v${theirs.version} by ${teammateSave.by ?? "a teammate"}.`, tone: "info" });
      return;
    }
    setConflict({ theirs: theirs.graph, version: theirs.version, message: `${teammateSave.by ?? "A teammate"} saved version ${theirs.version} while you were editing.` });
  }, [wfId, teammateSave, dirty]);

  // ---- the Run button's reason to be disabled
  const disabledReason = !canEdit
    ? `Your role in team “${workflow.team_name}” is viewer: ask ${askOwners} for editor rights to run it.`
    : wfId == null
      ? "Save the workflow first (Ctrl+S)."
      : !valid && validation
        ? `Fix the workflow first: ${validation.errors[0]?.message ?? "it is invalid"}`
        : dirty
          ? "Save your changes first (Ctrl+S): a run executes a saved version."
          : null;

  const selectedNode: NodeDoc | undefined = selection.size === 1 ? doc.nodes.find((n) => selection.has(n.id)) : pick.node ? doc.nodes.find((n) => n.id === pick.node) : undefined;

  return (
    <div className="wf-app">
      <header className="wf-header">
        <div className="wf-title">
          <h1>{doc.name || "Untitled workflow"}</h1>
          {savedVersion != null && <span className="chip">v{savedVersion}</span>}
          {dirty && (
            <span className="chip warn" data-testid="unsaved">
              unsaved
            </span>
          )}
          <span className="muted small">{workflow.team_name}</span>
          <PresenceBar users={presence.users} connected={presence.connected} />
          {!canEdit && (
            <span className="chip" data-testid="read-only">
              view only — ask {askOwners} to edit
            </span>
          )}
          {otherVersion && (
            <span className="chip warn">
              showing v{runVersion}, the run's version{" "}
              <button type="button" className="link small" onClick={() => setShowRunVersion(false)}>
                edit latest
              </button>
            </span>
          )}
          {diffView && (
            <span className="chip warn">
              comparing versions{" "}
              <button type="button" className="link small" onClick={() => setDiffView(null)}>
                back to editing
              </button>
            </span>
          )}
        </div>
        <div className="toolbar" role="toolbar" aria-label="Editor">
          <button type="button" onClick={doUndo} disabled={!history.past.length} title="Undo (Ctrl+Z)">
            Undo
          </button>
          <button type="button" onClick={doRedo} disabled={!history.future.length} title="Redo (Ctrl+Shift+Z)">
            Redo
          </button>
          <button type="button" onClick={layout} disabled={!editable} title="Auto-layout (L)">
            Layout
          </button>
          <button type="button" onClick={() => canvas.current?.fitView()} title="Fit view (F)">
            Fit
          </button>
          <ValidityBadge validation={validation} error={validationError} general={generalProblems} onPick={(id) => (setSelection(new Set([id])), openNode(id))} />
          <label className="sr-only" htmlFor="save-message">
            Version message
          </label>
          <input id="save-message" className="save-message" placeholder="Version message (optional)" value={saveMessage} onChange={(e) => setSaveMessage(e.target.value)} disabled={!canEdit} />
          <button type="button" className="primary" onClick={() => void save()} disabled={!canEdit || saving || (!dirty && wfId != null)} title={canEdit ? "Save a new version (Ctrl+S)" : `Viewers cannot save: ask ${askOwners} for editor rights`} data-testid="save">
            {saving ? "Saving…" : "Save"}
          </button>
          <button type="button" onClick={exportFile} title="Download this workflow as a JSON file">
            Export
          </button>
          <button type="button" onClick={() => setImporting(true)} title="Import a workflow file or pasted JSON as a new workflow">
            Import
          </button>
          <button type="button" onClick={() => setHelp(true)} aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)">
            ?
          </button>
          {demoMode && (
            <span className="badge demo" title="No model key is configured: LLM steps are answered by the offline demo model.">
              demo
            </span>
          )}
        </div>
      </header>
      {teammateSave && <SavedBanner event={teammateSave} onShow={() => void showTeammateSave()} onDismiss={() => setTeammateSave(null)} />}
      {notice && (
        <div className={`notice notice-${notice.tone}`} role={notice.tone === "error" ? "alert" : "status"} data-testid="notice">
          {notice.text}
          <button type="button" className="link small" onClick={() => setNotice(null)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
      <div className="wf-body">
        <aside className="wf-left" aria-label="Build and run">
          <div className="tabs" role="tablist" aria-label="Left panel">
            {(["build", "run"] as const).map((t) => (
              <button key={t} type="button" role="tab" aria-selected={leftTab === t} className={leftTab === t ? "tab is-on" : "tab"} onClick={() => setLeftTab(t)}>
                {t === "build" ? "Build" : "Run"}
              </button>
            ))}
          </div>
          {leftTab === "build" ? (
            <Palette types={boot.nodeTypes} onAdd={addFromPalette} disabled={!editable} />
          ) : (
            <>
              <InputForm schema={savedDoc.inputs} canRun={!disabledReason} disabledReason={disabledReason} starting={starting} error={startError} onRun={startNewRun} />
              <RunHistory
                runs={runs}
                error={runsError}
                openRunId={runId}
                onOpen={(r) => openRun(r, null, pick.node == null)}
                onRefresh={reloadRuns}
                onLoadOlder={hasOlderRuns ? loadOlderRuns : undefined}
              />
            </>
          )}
        </aside>
        <section className="wf-canvas" aria-label="Canvas">
          <EditorCanvas
            key={shownDoc === doc ? "doc" : diffView ? "diff" : `v${runVersion}`}
            doc={shownDoc}
            types={types}
            editable={editable}
            nodeRuns={nodeRuns}
            runActive={runActive}
            selection={selection}
            problems={shownDoc === doc ? nodeProblems : new Map()}
            edgeProblems={shownDoc === doc ? edgeProblems : new Map()}
            marks={marks}
            onSelectionChange={onSelectionChange}
            onOpenNode={openNode}
            onMove={(positions) => edit((d) => moveNodes(d, positions))}
            onConnect={(s, port, t) => edit((d) => connect(d, s, port, t))}
            onDrop={addAt}
            onRename={(id, name) => edit((d) => updateNode(d, id, { name }))}
            onRefused={(reason) => setNotice({ text: `Not connected: ${reason}`, tone: "error" })}
            apiRef={canvas}
          />
          {!doc.nodes.length && (
            <div className="empty-canvas muted">
              Drag nodes here from the palette — start with <strong>Start</strong>. Press <kbd>?</kbd> for shortcuts.
            </div>
          )}
        </section>
        <aside className="wf-right" aria-label="Details">
          <div className="tabs" role="tablist" aria-label="Right panel">
            {(
              [
                ["node", "Node"],
                ["run", "Run"],
                ["timeline", "Timeline"],
                ["workflow", "Workflow"],
                ["versions", "Versions"],
              ] as const
            ).map(([t, label]) => (
              <button key={t} type="button" role="tab" aria-selected={rightTab === t} className={rightTab === t ? "tab is-on" : "tab"} onClick={() => setRightTab(t)}>
                {label}
              </button>
            ))}
          </div>
          {rightTab === "node" &&
            (selectedNode ? (
              <ConfigPanel
                key={selectedNode.id}
                doc={doc}
                node={selectedNode}
                team={workflow.team}
                types={types}
                problems={nodeProblems.get(selectedNode.id) ?? []}
                readOnly={!editable}
                onChange={(change, coalesce) =>
                  edit((d) => {
                    const current = d.nodes.find((n) => n.id === selectedNode.id);
                    if (!current) return d;
                    const same = Object.entries(change).every(([k, v]) => JSON.stringify((current as unknown as Record<string, unknown>)[k] ?? (k === "config" ? {} : "")) === JSON.stringify(v ?? ""));
                    return same ? d : updateNode(d, selectedNode.id, change);
                  }, coalesce)
                }
                onRenameId={(from, to) => {
                  edit((d) => renameId(d, from, to));
                  setSelection(new Set([to]));
                  setPick({ node: to, key: null });
                }}
              />
            ) : (
              <p className="muted panel">Select a node to configure it. Drag nodes in from the palette on the left.</p>
            ))}
          {rightTab === "run" && (
            <>
              <RunPanel
                run={run}
                connection={connection}
                canCancel={canEdit}
                cancelling={cancelling}
                cancelError={cancelError}
                currentVersion={savedVersion}
                workflowId={wfId ?? -1}
                nodeName={nodeName}
                onCancel={cancel}
                onSelectNode={openNode}
              />
              {runId != null && <BudgetMeters run={run} settings={(otherVersion ?? savedDoc).settings} />}
              <StepInspector
                nodes={shownDoc.nodes}
                types={types}
                run={run}
                nodeId={inspectedNode}
                stepKey={inspectedKey}
                following={following}
                onSelectNode={openNode}
                onSelectKey={selectKey}
                onFollow={toggleFollow}
                onRerun={canEdit && runId != null && isRunFinished(run.status) ? rerun : undefined}
              />
            </>
          )}
          {rightTab === "timeline" && (
            <Timeline
              runId={runId}
              version={`${run.status}:${run.order.length}:${run.usage.steps}`}
              nodeName={nodeName}
              onPick={(node, key) => {
                setFollowing(false);
                setPick({ node, key });
                setRightTab("run");
              }}
            />
          )}
          {rightTab === "workflow" && <WorkflowPanel doc={doc} readOnly={!editable} onChange={(change, coalesce) => edit((d) => ({ ...d, ...change }), coalesce)} />}
          {rightTab === "versions" && (
            <VersionHistory
              workflowId={wfId}
              currentVersion={savedVersion}
              canEdit={canEdit}
              onShowDiff={(diff, graph) => setDiffView(diff && graph ? { diff, graph } : null)}
              onRestore={(number, graph) => {
                edit(() => graph);
                void save(graph, savedVersion, `Restored version ${number}`);
              }}
            />
          )}
        </aside>
      </div>
      {help && <ShortcutHelp onClose={() => setHelp(false)} />}
      {importing && <ImportDialog onImport={(text) => void importText(text)} onClose={() => setImporting(false)} />}
      {conflict && (
        <ConflictDialog
          base={savedDoc}
          mine={doc}
          theirs={conflict.theirs}
          theirVersion={conflict.version}
          message={conflict.message}
          onMerge={(merged) => {
            setConflict(null);
            setHistory((h) => push(h, merged));
            setSavedVersion(conflict.version);
            void save(merged, conflict.version, saveMessage || "Merged with a concurrent change");
          }}
          onSaveCopy={() => void saveCopy()}
          onTakeTheirs={() => {
            setConflict(null);
            setSavedDoc(conflict.theirs);
            setSavedVersion(conflict.version);
            draftBase.current = conflict.version;
            setHistory(reset(conflict.theirs));
          }}
          onClose={() => setConflict(null)}
        />
      )}
    </div>
  );
}

function ValidityBadge({ validation, error, general, onPick }: { validation: ValidationResult | null; error: string | null; general: string[]; onPick: (id: string) => void }) {
  const [open, setOpen] = useState(false);
  if (error) return <span className="chip warn" title={error}>unchecked</span>;
  if (!validation) return <span className="chip">checking…</span>;
  if (validation.valid)
    return (
      <span className="chip ok" data-testid="validity">
        ✓ valid
      </span>
    );
  return (
    <span className="validity">
      <button type="button" className="chip danger" aria-expanded={open} onClick={() => setOpen((o) => !o)} data-testid="validity">
        ⚠ {validation.errors.length} problem{validation.errors.length === 1 ? "" : "s"}
      </button>
      {open && (
        <ul className="problem-list" role="list">
          {validation.errors.map((p, i) => (
            <li key={i}>
              {p.node ? (
                <button type="button" className="link" onClick={() => onPick(p.node!)}>
                  {p.node}
                </button>
              ) : p.edge != null ? (
                <span>edge {p.edge + 1}</span>
              ) : null}{" "}
              {p.message}
            </li>
          ))}
          {general.length > 0 && null}
        </ul>
      )}
    </span>
  );
}

function Meter({ label, used, max, format }: { label: string; used: number; max: number | null | undefined; format: (n: number) => string }) {
  const share = max ? Math.min(1, used / max) : 0;
  return (
    <div className="meter">
      <span className="meter-label">{label}</span>
      <span className="meter-bar" aria-hidden="true">
        <span className={`meter-fill ${share > 0.9 ? "is-high" : ""}`} style={{ width: `${share * 100}%` }} />
      </span>
      <span className="meter-text">
        {format(used)}
        {max ? ` / ${format(max)}` : ""}
      </span>
    </div>
  );
}

function BudgetMeters({ run, settings }: { run: RunState; settings: WorkflowDoc["settings"] }) {
  const [now, setNow] = useState(Date.now());
  const live = !isRunFinished(run.status);
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [live]);
  const started = run.run?.started_at ? Date.parse(run.run.started_at) : null;
  const ended = run.run?.finished_at ? Date.parse(run.run.finished_at) : null;
  const elapsed = run.durationMs ?? (started ? (ended ?? now) - started : 0);
  return (
    <section className="panel budgets" aria-label="Budgets consumed" data-testid="budgets">
      <Meter label="Tokens" used={run.usage.tokens} max={settings?.max_tokens} format={formatTokens} />
      <Meter label="Cost" used={run.usage.cost_usd} max={settings?.max_cost_usd} format={formatCost} />
      <Meter label="Steps" used={run.usage.steps} max={settings?.max_steps} format={(n) => String(n)} />
      <Meter label="Time" used={elapsed} max={settings?.timeout_s ? settings.timeout_s * 1000 : null} format={formatDuration} />
    </section>
  );
}

function ImportDialog({ onImport, onClose }: { onImport: (text: string) => void; onClose: () => void }) {
  const [text, setText] = useState("");
  return (
    <div className="dialog-backdrop" onClick={onClose}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="import-title" onClick={(e) => e.stopPropagation()}>
        <h2 id="import-title">Import a workflow</h2>
        <p className="muted small">A format v1 JSON file (as Export writes it) becomes a new workflow in your team.</p>
        <label htmlFor="import-file">From a file</label>
        <input id="import-file" type="file" accept="application/json,.json" onChange={async (e) => e.target.files?.[0] && onImport(await e.target.files[0].text())} />
        <label htmlFor="import-text">Or paste the JSON</label>
        <textarea id="import-text" rows={8} value={text} onChange={(e) => setText(e.target.value)} />
        <div className="form-actions">
          <button type="button" className="primary" disabled={!text.trim()} onClick={() => onImport(text)}>
            Import pasted JSON
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </div>
    </div>
  );
}
