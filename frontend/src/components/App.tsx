/**
 * The workflow editor: the palette and the run's inputs on the left, the
 * canvas in the middle, the selected node's settings, the workflow's
 * settings, the open run, its timeline and the version history on the right.
 * State is split by concern into hooks: the document and its undo history
 * (useDocument), saving it (usePersistence), validation (useValidation), the
 * selection (useSelection), edits (useGraphEditing), the keyboard
 * (useEditorKeys), and the open run (useRunView, useRunHistory).
 */
import { ReactFlowProvider } from "@xyflow/react";
import { useCallback, useMemo, useRef, useState } from "react";

import { getWorkflow } from "../api/endpoints";

import type { Boot } from "../boot";
import type { DocDiff } from "../graph/diff";
import { connect, moveNodes, updateNode } from "../graph/edit";
import { reset } from "../graph/history";
import { displayName, type NodeDoc, type WorkflowDoc } from "../graph/format";
import { indexTypes } from "../graph/nodeTypes";
import { useDocument, type Notice } from "../hooks/useDocument";
import { useEditorKeys } from "../hooks/useEditorKeys";
import { useGraphEditing } from "../hooks/useGraphEditing";
import { usePersistence } from "../hooks/usePersistence";
import { useRunHistory } from "../hooks/useRunHistory";
import { useRunView, type RightTab } from "../hooks/useRunView";
import { PublishedBadge } from "./TriggersPanel";
import { useSelection } from "../hooks/useSelection";
import { useValidation } from "../hooks/useValidation";
import { ConflictDialog } from "./ConflictDialog";
import { PresenceBar, SavedBanner, usePresence, type SavedEvent } from "./TeamPresence";
import { DetailsPanel } from "./DetailsPanel";
import { EditorCanvas, type CanvasApi } from "./EditorCanvas";
import { EditorHeader } from "./EditorHeader";
import { ImportDialog } from "./ImportDialog";
import { InputForm } from "./InputForm";
import { NodeFinder } from "./NodeFinder";
import { Palette } from "./Palette";
import { RunHistory } from "./RunHistory";
import { ShortcutHelp } from "./ShortcutHelp";

type LeftTab = "build" | "run";

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
  const [notice, setNotice] = useState<Notice | null>(null);

  const d = useDocument(workflow, types, setNotice);
  const { doc, dirty, savedDoc, savedVersion, wfId, history, edit } = d;
  const { validation, validationError, nodeProblems, edgeProblems, generalProblems, nodeWarnings, valid } = useValidation(doc);

  // ---- panels
  const [leftTab, setLeftTab] = useState<LeftTab>(workflow.graph ? "run" : "build");
  const [rightTab, setRightTab] = useState<RightTab>(boot.runId != null ? "run" : workflow.graph ? "run" : "workflow");
  const [help, setHelp] = useState(false);
  const [finding, setFinding] = useState(false);

  // ---- the open run, and the selection
  const rv = useRunView({ initialRunId: boot.runId, wfId, savedVersion, setRightTab, setNotice });
  const { run, runId, nodeRuns, runActive, runVersion, otherVersion, pick, setPick, setFollowing, openNode, openRun } = rv;
  const pickOne = useCallback((node: string) => setPick({ node, key: null }), [setPick]);
  // A new version saved: the editor shows it, not the open run's older version read-only.
  const persist = usePersistence(workflow, d, setNotice, useCallback(() => rv.setShowRunVersion(false), [rv.setShowRunVersion]));
  const sel = useSelection(pickOne);
  const { selection, setSelection } = sel;
  const canvas = useRef<CanvasApi | null>(null);
  const history_ = useRunHistory(wfId, runId, run.status);

  // ---- what the canvas shows: a version compare, the run's version (read-only), or the document
  const [diffView, setDiffView] = useState<{ diff: DocDiff; graph: WorkflowDoc } | null>(null);
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

  // ---- re-run from a node: on the graph the user is looking at. A draft is
  // saved first as a version (so the run is reproducible), a past run's own
  // version shown on the canvas is re-run as it is.
  const rerunHere = useCallback(
    async (node: string) => {
      let version: number | null = savedVersion;
      if (otherVersion) version = runVersion;
      else if (dirty) {
        version = await persist.save(doc, savedVersion, persist.saveMessage || `Re-run from ${nodeName(node)}`);
        if (version == null) return; // not saved: the notice says why
      }
      await rv.rerun(node, version);
    },
    [savedVersion, otherVersion, runVersion, dirty, persist, doc, nodeName, rv],
  );

  // ---- edits and the keyboard
  const onAdded = useCallback(
    (id: string) => {
      setPick({ node: id, key: null });
      setFollowing(false);
      setRightTab("node");
    },
    [setPick, setFollowing],
  );
  const ed = useGraphEditing({ d, sel, types, editable, canvas, setNotice, onAdded });
  useEditorKeys(
    {
      ...ed,
      save: persist.save,
      selectAll: () => setSelection(new Set(doc.nodes.map((n) => n.id))),
      escape: () => (sel.clearSelection(), setHelp(false)),
      closeDialogs: () => (setHelp(false), setFinding(false), persist.setImporting(false), persist.setConflict(null)),
      toggleHelp: () => setHelp((h) => !h),
      find: () => setFinding(true),
      zoomToSelection: () => {
        if (selection.size) canvas.current?.zoomTo([...selection]);
        else setNotice({ text: "Select one or more nodes first, then press Z to zoom to them.", tone: "info" });
      },
      doc,
      editable,
    },
    canvas,
  );

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
    onMoved: (teamName) => setNotice({ text: `An owner moved this workflow to the team ${teamName}; reload to see it there.`, tone: "info" }),
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
      d.setSavedDoc(theirs.graph);
      d.setSavedVersion(theirs.version);
      d.draftBase.current = theirs.version;
      d.setHistory(reset(theirs.graph));
      setNotice({ text: `Loaded v${theirs.version} by ${teammateSave.by ?? "a teammate"}.`, tone: "info" });
      return;
    }
    persist.setConflict({ theirs: theirs.graph, version: theirs.version, message: `${teammateSave.by ?? "A teammate"} saved version ${theirs.version} while you were editing.` });
  }, [wfId, teammateSave, dirty, d, persist]);

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
      <EditorHeader
        name={doc.name}
        savedVersion={savedVersion}
        dirty={dirty}
        teamName={workflow.team_name}
        extras={
          <>
            <PresenceBar users={presence.users} connected={presence.connected} />
            <PublishedBadge initial={workflow.published_version} />
            {!canEdit && (
              <span className="chip" data-testid="read-only">
                view only — ask {askOwners} to edit
              </span>
            )}
          </>
        }
        saveTitle={canEdit ? "Save a new version (Ctrl+S)" : `Viewers cannot save: ask ${askOwners} for editor rights`}
        otherVersion={otherVersion ? runVersion : null}
        onEditLatest={() => rv.setShowRunVersion(false)}
        comparing={diffView != null}
        onStopComparing={() => setDiffView(null)}
        canUndo={history.past.length > 0}
        canRedo={history.future.length > 0}
        onUndo={ed.doUndo}
        onRedo={ed.doRedo}
        editable={editable}
        onLayout={ed.layout}
        onFit={() => canvas.current?.fitView()}
        validation={validation}
        validationError={validationError}
        generalProblems={generalProblems}
        onPickProblem={(id) => (setSelection(new Set([id])), openNode(id))}
        canEdit={canEdit}
        saveMessage={persist.saveMessage}
        onSaveMessage={persist.setSaveMessage}
        saving={persist.saving}
        canSave={canEdit && !persist.saving && (dirty || wfId == null)}
        onSave={() => void persist.save()}
        onExport={persist.exportFile}
        onImport={() => persist.setImporting(true)}
        onHelp={() => setHelp(true)}
        demoMode={demoMode}
      />
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
            <Palette types={boot.nodeTypes} onAdd={ed.addFromPalette} disabled={!editable} />
          ) : (
            <>
              <InputForm schema={savedDoc.inputs} canRun={!disabledReason} disabledReason={disabledReason} starting={rv.starting} error={rv.startError} onRun={rv.startNewRun} />
              <RunHistory
                runs={history_.runs}
                error={history_.runsError}
                openRunId={runId}
                onOpen={(r) => openRun(r, null, pick.node == null)}
                onRefresh={history_.reloadRuns}
                onLoadOlder={history_.loadOlderRuns}
                filters={history_.filters}
                onFilters={history_.setFilters}
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
            warnings={shownDoc === doc ? nodeWarnings : undefined}
            edgeProblems={shownDoc === doc ? edgeProblems : new Map()}
            marks={marks}
            onSelectionChange={sel.onSelectionChange}
            onOpenNode={openNode}
            onMove={(positions) => edit((g) => moveNodes(g, positions))}
            onConnect={(s, port, t) => edit((g) => connect(g, s, port, t))}
            onDrop={ed.addAt}
            onAddConnected={ed.addConnected}
            onRename={(id, name) => edit((g) => updateNode(g, id, { name }))}
            onRefused={(reason) => setNotice({ text: `Not connected: ${reason}`, tone: "error" })}
            apiRef={canvas}
          />
          {finding && (
            <NodeFinder
              doc={shownDoc}
              types={types}
              onClose={() => setFinding(false)}
              onFound={(id) => {
                setFinding(false);
                setSelection(new Set([id]));
                setPick({ node: id, key: null });
                canvas.current?.centerOn(id);
              }}
            />
          )}
          {!doc.nodes.length && (
            <div className="empty-canvas muted">
              Drag nodes here from the palette — start with <strong>Start</strong>. Press <kbd>?</kbd> for shortcuts.
            </div>
          )}
        </section>
        <DetailsPanel
          tab={rightTab}
          onTab={setRightTab}
          d={d}
          rv={rv}
          types={types}
          selectedNode={selectedNode}
          nodeProblems={nodeProblems}
          editable={editable}
          canEdit={canEdit}
          team={workflow.team}
          shownDoc={shownDoc}
          nodeName={nodeName}
          onRerun={rerunHere}
          runs={history_.runs}
          onRenamed={(to) => {
            setSelection(new Set([to]));
            setPick({ node: to, key: null });
          }}
          onShowDiff={(diff, graph) => setDiffView(diff && graph ? { diff, graph } : null)}
          onRestore={(number, graph) => {
            if (!window.confirm(`Restore version ${number}? It is saved as a new version${dirty ? "; your unsaved changes stay in the undo history" : ""}.`)) return;
            setDiffView(null); // back to editing: the canvas shows the restored graph
            edit(() => graph);
            void persist.save(graph, savedVersion, `Restored version ${number}`);
          }}
        />
      </div>
      {help && <ShortcutHelp onClose={() => setHelp(false)} />}
      {persist.importing && <ImportDialog onImport={(text) => void persist.importText(text)} onClose={() => persist.setImporting(false)} />}
      {persist.conflict && (
        <ConflictDialog
          base={savedDoc}
          mine={doc}
          theirs={persist.conflict.theirs}
          theirVersion={persist.conflict.version}
          message={persist.conflict.message}
          onMerge={persist.mergeConflict}
          onSaveCopy={() => void persist.saveCopy()}
          onTakeTheirs={persist.takeTheirs}
          onClose={() => persist.setConflict(null)}
        />
      )}
    </div>
  );
}
