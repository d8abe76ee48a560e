/**
 * The open run: followed live over its socket, drawn on the graph of the
 * version it ran, its steps inspected (a picked node, or "follow live"), and
 * starting, re-running and cancelling runs.
 */
import { useCallback, useEffect, useMemo, useState } from "react";

import { cancelRun, getVersion, rerunFrom, startRun } from "../api/endpoints";
import type { WorkflowDoc } from "../graph/format";
import type { StepId } from "../run/reducer";
import { followTarget, summarizeNodes } from "../run/selectors";
import { isRunFinished, type RunSummary } from "../run/types";
import { useRun } from "./useRun";
import type { SetNotice } from "./useDocument";
import { messageOf } from "./usePersistence";

export type RightTab = "node" | "run" | "timeline" | "compare" | "workflow" | "versions" | "triggers";

function rememberRun(runId: number | null): void {
  const url = new URL(window.location.href);
  if (runId == null) url.searchParams.delete("run");
  else url.searchParams.set("run", String(runId));
  window.history.replaceState(window.history.state, "", url);
}

export function useRunView(opts: {
  initialRunId: number | null;
  wfId: number | null;
  savedVersion: number | null;
  setRightTab: (tab: RightTab | ((t: RightTab) => RightTab)) => void;
  setNotice: SetNotice;
}) {
  const { wfId, savedVersion, setRightTab, setNotice } = opts;
  const [runId, setRunId] = useState<number | null>(opts.initialRunId);
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
  const otherVersion = runVersion != null && runVersion !== savedVersion && showRunVersion ? versionGraphs[runVersion] : undefined;

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
    [runId, setRightTab],
  );
  const selectKey = useCallback(
    (key: string) => {
      setFollowing(false);
      setPick({ node: inspectedNode, key });
    },
    [inspectedNode],
  );
  const pickStep = useCallback((node: string, key: string | null) => {
    setFollowing(false);
    setPick({ node, key });
  }, []);
  const toggleFollow = useCallback(() => {
    setFollowing((on) => !on);
    setPick((p) => ({ ...p, node: inspectedNode, key: null }));
  }, [inspectedNode]);

  const openRun = useCallback(
    (summary: RunSummary | { id: number }, hint: Partial<RunSummary> | null = null, follow = true) => {
      setRunHint(hint ?? ("status" in summary ? summary : null));
      setRunId(summary.id);
      setFollowed(null);
      setFollowing(follow);
      setShowRunVersion(true);
      setRightTab("run");
      rememberRun(summary.id);
    },
    [setRightTab],
  );

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
    async (node: string, version?: number | null) => {
      if (runId == null) return;
      try {
        const created = await rerunFrom(runId, node, version);
        openRun({ id: created.id }, { status: created.status, version: created.version }, true);
      } catch (exc) {
        setNotice({ text: `Cannot re-run from ${node}: ${messageOf(exc)}`, tone: "error" });
      }
    },
    [runId, openRun, setNotice],
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

  return {
    runId,
    run,
    connection,
    nodeRuns,
    runActive,
    runVersion,
    otherVersion,
    setShowRunVersion,
    pick,
    setPick,
    following,
    setFollowing,
    inspectedNode,
    inspectedKey,
    openNode,
    selectKey,
    pickStep,
    toggleFollow,
    openRun,
    starting,
    startError,
    startNewRun,
    rerun,
    cancelling,
    cancelError,
    cancel,
  };
}

export type RunView = ReturnType<typeof useRunView>;
