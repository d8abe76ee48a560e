/** This workflow's past runs, newest first; picking one opens it. */
import { useState } from "react";

import { formatDateTime, formatRelative, formatTokens } from "../format";
import type { RunSummary } from "../run/types";
import { StatusPill } from "./StatusPill";

interface Props {
  runs: RunSummary[] | null;
  error: string | null;
  openRunId: number | null;
  onOpen: (run: RunSummary) => void;
  onRefresh: () => void;
  /** Present while older runs than those shown exist. */
  onLoadOlder?: () => void;
}

export function RunHistory({ runs: allRuns, error, openRunId, onOpen, onRefresh, onLoadOlder }: Props) {
  const [trigger, setTrigger] = useState("");
  const triggers = [...new Set((allRuns ?? []).map((r) => r.trigger ?? "api"))].sort();
  const runs = allRuns && trigger ? allRuns.filter((r) => (r.trigger ?? "api") === trigger) : allRuns;
  return (
    <section className="panel run-history" aria-labelledby="history-heading">
      <div className="panel-head">
        <h2 id="history-heading" className="panel-title">
          Runs
        </h2>
        {triggers.length > 1 && (
          <select aria-label="Filter runs by trigger" className="small" value={trigger} onChange={(e) => setTrigger(e.target.value)}>
            <option value="">all triggers</option>
            {triggers.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        )}
        <button type="button" className="small ghost" onClick={onRefresh} aria-label="Refresh the run history">
          ↻
        </button>
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {runs === null && !error && <p className="muted small">Loading…</p>}
      {runs && runs.length === 0 && <p className="muted small">No runs yet.</p>}
      {runs && runs.length > 0 && (
        <ul className="history-list" data-testid="run-history">
          {runs.map((run) => (
            <li key={run.id}>
              <button
                type="button"
                className={`history-item ${run.id === openRunId ? "is-open" : ""}`}
                aria-current={run.id === openRunId ? "true" : undefined}
                onClick={() => onOpen(run)}
                title={formatDateTime(run.created_at)}
              >
                <span className="history-id">#{run.id}</span>
                <StatusPill status={run.status} />
                <span className="history-when">{formatRelative(run.created_at)}</span>
                <span className="history-meta muted">
                  {formatTokens(run.usage?.tokens)} tok
                  {run.version != null && ` · v${run.version}`}
                  {run.triggered_by && ` · ${run.triggered_by}`}
                  {run.trigger && <span className="history-trigger" data-testid="run-trigger">{` · ${run.trigger}`}</span>}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {runs && runs.length > 0 && onLoadOlder && (
        <button type="button" className="small ghost load-older" onClick={onLoadOlder}>
          Older runs
        </button>
      )}
    </section>
  );
}
