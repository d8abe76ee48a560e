/**
 * The workflow's run history. Every run loaded so far, newest first: the
 * periodic refresh merges the newest page in by id, so older pages the user
 * loaded stay, and runs that slide off the newest page meanwhile are kept.
 */
import { useCallback, useEffect, useRef, useState } from "react";

import { listRuns, RUNS_PAGE, type RunFilters } from "../api/endpoints";
import type { RunSummary } from "../run/types";
import { messageOf } from "./usePersistence";

// Runs started from outside (webhooks, schedules, MCP) show up within this time.
const HISTORY_REFRESH_MS = 3000;

/** Runs known and a fresh page of them, by id (the page's newer data wins), newest first. */
export function mergeRuns(known: RunSummary[] | null, page: RunSummary[]): RunSummary[] {
  const byId = new Map((known ?? []).map((r) => [r.id, r]));
  for (const r of page) byId.set(r.id, r);
  return [...byId.values()].sort((a, b) => b.id - a.id);
}

export function useRunHistory(wfId: number | null, runId: number | null, runStatus: string | null) {
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [hasOlderRuns, setHasOlderRuns] = useState(false);
  const [runsError, setRunsError] = useState<string | null>(null);
  const [filters, setFilters] = useState<RunFilters>({});
  const filterKey = `${wfId}?${new URLSearchParams(filters as Record<string, string>)}`;
  const runsOf = useRef<string | null>(null); // the workflow and filters `runs` belong to
  const reloadRuns = useCallback(() => {
    if (wfId == null) return setRuns([]);
    listRuns(wfId, undefined, filters)
      .then((page) => {
        if (runsOf.current !== filterKey) {
          runsOf.current = filterKey;
          setRuns(page);
          setHasOlderRuns(page.length === RUNS_PAGE);
        } else {
          setRuns((known) => mergeRuns(known, page));
        }
        setRunsError(null);
      })
      .catch((exc) => setRunsError(`Cannot load the runs: ${messageOf(exc)}`));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- filterKey stands for filters
  }, [wfId, filterKey]);
  const loadOlderRuns = useCallback(() => {
    const oldest = runs?.[runs.length - 1];
    if (wfId == null || !oldest) return;
    listRuns(wfId, oldest.id, filters)
      .then((page) => {
        if (runsOf.current !== filterKey) return; // another workflow (or filter) is shown now
        setRuns((known) => mergeRuns(known, page));
        setHasOlderRuns(page.length === RUNS_PAGE);
      })
      .catch((exc) => setRunsError(`Cannot load older runs: ${messageOf(exc)}`));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- filterKey stands for filters
  }, [wfId, runs, filterKey]);
  useEffect(reloadRuns, [reloadRuns, runId, runStatus]);
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === "visible" && reloadRuns(), HISTORY_REFRESH_MS);
    return () => clearInterval(timer);
  }, [reloadRuns]);
  return { runs, runsError, reloadRuns, loadOlderRuns: hasOlderRuns ? loadOlderRuns : undefined, filters, setFilters };
}
