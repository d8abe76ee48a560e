/** This workflow's past runs, newest first; picking one opens it. */
import { useEffect, useState } from "react";

import { formatDateTime, formatRelative, formatTokens } from "../format";

import { ANY_TRIGGER, type RunFilters } from "../api/endpoints";
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
  filters?: RunFilters;
  onFilters?: (filters: RunFilters) => void;
}

const STATUSES = ["succeeded", "failed", "cancelled", "waiting", "running", "queued"];
const TRIGGERS = ["manual", "rerun", "api", "webhook", "schedule", "mcp", "experiment"];

function Filters({ filters, onFilters }: { filters: RunFilters; onFilters: (f: RunFilters) => void }) {
  const [q, setQ] = useState(filters.q ?? "");
  useEffect(() => {
    const t = setTimeout(() => q !== (filters.q ?? "") && onFilters({ ...filters, q }), 300);
    return () => clearTimeout(t);
  }, [q, filters, onFilters]);
  const set = (name: keyof RunFilters) => (e: { target: { value: string } }) => onFilters({ ...filters, [name]: e.target.value });
  return (
    <div className="run-filters" data-testid="run-filters">
      <select aria-label="Filter runs by status" value={filters.status ?? ""} onChange={set("status")}>
        <option value="">any status</option>
        {STATUSES.map((s) => (
          <option key={s}>{s}</option>
        ))}
      </select>
      <select aria-label="Filter runs by trigger" value={filters.trigger ?? ""} onChange={set("trigger")}>
        <option value="">all but experiments</option>
        <option value={ANY_TRIGGER}>any trigger</option>
        {TRIGGERS.map((s) => (
          <option key={s}>{s}</option>
        ))}
      </select>
      <input type="search" aria-label="Search the runs' input" placeholder="Search input…" value={q} maxLength={200} onChange={(e) => setQ(e.target.value)} />
      <input
        type="number"
        min={1}
        step={1}
        className="run-filter-version"
        aria-label="Filter runs by version"
        placeholder="version"
        value={filters.version ?? ""}
        onChange={(e) => onFilters({ ...filters, version: /^[1-9][0-9]*$/.test(e.target.value) ? e.target.value : "" })}
      />
      <label className="run-filter-date">
        from
        <input type="date" aria-label="Runs since (date)" title="Runs since this day" value={filters.since ?? ""} onChange={set("since")} />
      </label>
      <label className="run-filter-date">
        to
        <input type="date" aria-label="Runs until (date)" title="Runs up to this day, included" value={filters.until ?? ""} onChange={set("until")} />
      </label>
    </div>
  );
}

/** What an empty list says: an experiment's runs are hidden by default, so say so. */
function emptyText(filters: RunFilters | undefined): string {
  if (!filters) return "No runs yet.";
  const { trigger, ...rest } = filters;
  if (Object.values(rest).some(Boolean) || (trigger && trigger !== ANY_TRIGGER)) return "No runs match.";
  return trigger ? "No runs yet." : "No runs yet. (An experiment's runs are left out here: “any trigger” shows them.)";
}

export function RunHistory({ runs: allRuns, error, openRunId, onOpen, onRefresh, onLoadOlder, filters, onFilters }: Props) {
  const [trigger, setTrigger] = useState("");
  const triggers = [...new Set((allRuns ?? []).map((r) => r.trigger ?? "api"))].sort();
  const runs = allRuns && trigger ? allRuns.filter((r) => (r.trigger ?? "api") === trigger) : allRuns;
  return (
    <section className="panel run-history" aria-labelledby="history-heading">
      <div className="panel-head">
        <h2 id="history-heading" className="panel-title">
          Runs
        </h2>
        {/* With server-side filters (all runs, not only the loaded page) the local trigger pick is not needed. */}
        {!onFilters && triggers.length > 1 && (
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
      {filters && onFilters && <Filters filters={filters} onFilters={onFilters} />}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {runs === null && !error && <p className="muted small">Loading…</p>}
      {runs && runs.length === 0 && <p className="muted small">{emptyText(filters)}</p>}
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
