/**
 * The workflow page: the graph in the middle, inputs and run history on the
 * left, the open run and the selected step on the right. State is split by
 * concern: the workflow (from the page), the open run (useRun), the selection.
 */
import { useCallback, useEffect, useMemo, useState } from "react";

import { ApiError } from "../api/client";
import { cancelRun, getVersion, listRuns, startRun } from "../api/endpoints";
import type { Boot } from "../boot";
import { displayName, type WorkflowDoc } from "../graph/format";
import { indexTypes } from "../graph/nodeTypes";
import { useRun } from "../hooks/useRun";
import type { StepId } from "../run/reducer";
import { followTarget, summarizeNodes } from "../run/selectors";
import { isRunFinished, type RunSummary } from "../run/types";
import { InputForm } from "./InputForm";
import { RunHistory } from "./RunHistory";
import { RunPanel } from "./RunPanel";
import { StepInspector } from "./StepInspector";
import { WorkflowGraph } from "./WorkflowGraph";

const HISTORY_REFRESH_MS = 15000;

function messageOf(exc: unknown): string {
  return exc instanceof ApiError || exc instanceof Error ? exc.message : String(exc);
}

/** Puts the open run in the address bar, so a reload (or a shared link) reopens it. */
function rememberRun(runId: number | null): void {
  const url = new URL(window.location.href);
  if (runId == null) url.searchParams.delete("run");
  else url.searchParams.set("run", String(runId));
  window.history.replaceState(window.history.state, "", url);
}

export function App({ boot }: { boot: Boot }) {
  const { workflow, canRun, demoMode } = boot;
  const types = useMemo(() => indexTypes(boot.nodeTypes), [boot.nodeTypes]);

  // ---- the open run
  const [runId, setRunId] = useState<number | null>(boot.runId);
  const [runHint, setRunHint] = useState<Partial<RunSummary> | null>(null);
  const { run, connection } = useRun(runId, runHint);
  const nodeRuns = useMemo(() => summarizeNodes(run), [run]);
  const runActive = runId != null && !isRunFinished(run.status);

  // ---- the graph: the run's own version when it differs from the latest
  const ownRun = run.run != null && (run.run.workflow == null || run.run.workflow === workflow.id);
  const runVersion = ownRun ? (run.run?.version ?? null) : null;
  const [versionGraphs, setVersionGraphs] = useState<Record<number, WorkflowDoc>>({});
  useEffect(() => {
    if (runVersion == null || runVersion === workflow.version || versionGraphs[runVersion]) return;
    let live = true;
    getVersion(workflow.id, runVersion)
      .then((v) => live && setVersionGraphs((all) => ({ ...all, [runVersion]: v.graph })))
      .catch(() => {}); // the latest graph still shows; the run panel says which version ran
    return () => {
      live = false;
    };
  }, [runVersion, workflow.id, workflow.version, versionGraphs]);
  const doc = (runVersion != null && runVersion !== workflow.version && versionGraphs[runVersion]) || workflow.graph;
  const nodeName = useCallback((id: string) => {
    const node = doc?.nodes.find((n) => n.id === id);
    return node ? displayName(node) : id;
  }, [doc]);

  // ---- selection: a picked node, or "follow live" (whatever step is running)
  const [pick, setPick] = useState<{ node: string | null; key: string | null }>({ node: null, key: null });
  const [following, setFollowing] = useState(true);
  const [followed, setFollowed] = useState<StepId | null>(null);
  useEffect(() => {
    if (!following) return;
    const target = followTarget(run, followed && run.steps[followed] ? followed : null);
    if (target !== followed) setFollowed(target);
  }, [run, following, followed]);
  const followedStep = following && followed ? run.steps[followed] : undefined;
  const selectedNode = followedStep ? followedStep.node : pick.node;
  const selectedKey = followedStep ? followedStep.key : pick.key;

  const selectNode = useCallback((node: string | null) => {
    setFollowing(false);
    setPick({ node, key: null });
  }, []);
  const selectKey = useCallback(
    (key: string) => {
      setFollowing(false);
      setPick({ node: selectedNode, key });
    },
    [selectedNode],
  );
  const toggleFollow = useCallback(() => {
    setFollowing((on) => !on);
    setPick((p) => ({ ...p, node: selectedNode, key: null }));
  }, [selectedNode]);

  // ---- run history
  const [history, setHistory] = useState<RunSummary[] | null>(null);
  const [historyError, setHistoryError] = useState<string | null>(null);
  const reloadHistory = useCallback(() => {
    listRuns(workflow.id)
      .then((runs) => {
        setHistory(runs);
        setHistoryError(null);
      })
      .catch((exc) => setHistoryError(`Cannot load the runs: ${messageOf(exc)}`));
  }, [workflow.id]);
  // Reload when the open run changes or moves on (queued → running → finished),
  // and now and then for runs started elsewhere (a teammate, the API, a schedule).
  useEffect(reloadHistory, [reloadHistory, runId, run.status]);
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === "visible" && reloadHistory(), HISTORY_REFRESH_MS);
    return () => clearInterval(timer);
  }, [reloadHistory]);

  const openRun = useCallback(
    (summary: RunSummary | { id: number }, hint: Partial<RunSummary> | null = null, follow = pick.node == null) => {
      setRunHint(hint ?? ("status" in summary ? summary : null));
      setRunId(summary.id);
      setFollowed(null);
      setFollowing(follow);
      rememberRun(summary.id);
    },
    [pick.node],
  );

  // ---- starting and cancelling
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<string | null>(null);
  const startNewRun = useCallback(
    async (input: Record<string, unknown>) => {
      setStarting(true);
      setStartError(null);
      try {
        const created = await startRun(workflow.id, input);
        openRun({ id: created.id }, { status: created.status, version: created.version }, true);
      } catch (exc) {
        setStartError(messageOf(exc));
      } finally {
        setStarting(false);
      }
    },
    [workflow.id, openRun],
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

  const disabledReason = !workflow.graph
    ? "This workflow has no saved version to run."
    : !canRun
      ? `Your role in team “${workflow.team_name}” is viewer: ask an owner for editor rights to run it.`
      : null;

  return (
    <div className="wf-app">
      <header className="wf-header">
        <div className="wf-title">
          <h1>{workflow.name}</h1>
          {workflow.version != null && <span className="chip">v{workflow.version}</span>}
          <span className="muted small">{workflow.team_name}</span>
          {doc !== workflow.graph && runVersion != null && <span className="chip warn">showing v{runVersion}, the run's version</span>}
        </div>
        {workflow.description && (
          <p className="wf-description" title={workflow.description}>
            {workflow.description}
          </p>
        )}
        {demoMode && (
          <span className="badge demo" title="No model key is configured: LLM steps are answered by the offline demo model.">
            demo mode
          </span>
        )}
      </header>
      <div className="wf-body">
        <aside className="wf-left" aria-label="Inputs and run history">
          <InputForm
            schema={workflow.graph?.inputs}
            canRun={canRun && !!workflow.graph}
            disabledReason={disabledReason}
            starting={starting}
            error={startError}
            onRun={startNewRun}
          />
          <RunHistory runs={history} error={historyError} openRunId={runId} onOpen={(r) => openRun(r)} onRefresh={reloadHistory} />
        </aside>
        <section className="wf-canvas" aria-label="Graph">
          {doc ? (
            <WorkflowGraph
              // A different version is a different drawing: remount, so it is fitted to view afresh.
              key={doc === workflow.graph ? "latest" : `v${runVersion}`}
              doc={doc}
              types={types}
              nodeRuns={nodeRuns}
              selected={selectedNode}
              runActive={runActive}
              onSelect={selectNode}
            />
          ) : (
            <p className="muted center">This workflow has no graph yet.</p>
          )}
        </section>
        <aside className="wf-right" aria-label="Run and step details">
          <RunPanel
            run={run}
            connection={connection}
            canCancel={canRun}
            cancelling={cancelling}
            cancelError={cancelError}
            currentVersion={workflow.version}
            workflowId={workflow.id}
            nodeName={nodeName}
            onCancel={cancel}
            onSelectNode={selectNode}
          />
          <StepInspector
            nodes={doc?.nodes ?? []}
            types={types}
            run={run}
            nodeId={selectedNode}
            stepKey={selectedKey}
            following={following}
            onSelectNode={selectNode}
            onSelectKey={selectKey}
            onFollow={toggleFollow}
          />
        </aside>
      </div>
    </div>
  );
}
