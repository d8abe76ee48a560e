/**
 * Compare two runs of the workflow node by node: status, output (a text
 * diff), tokens, cost and duration — did the prompt change help?
 */
import { Fragment, useEffect, useMemo, useState } from "react";

import { getRunRecord, type RunRecord } from "../api/endpoints";
import { compareRuns, type NodeInRun } from "../compare/runs";
import { elapsedMs, formatCost, formatDuration, formatTokens } from "../format";
import type { RunSummary } from "../run/types";
import { StatusPill } from "./StatusPill";
import { TextDiff } from "./TextDiff";

interface Props {
  runs: RunSummary[] | null;
  /** The run open in the editor: compared by default with the run it re-ran, or the one before it. */
  openRun: RunSummary | null;
  nodeOrder: string[];
  nodeName: (id: string) => string;
}

function defaultPair(runs: RunSummary[], open: RunSummary | null): [number | null, number | null] {
  const b = open?.id ?? runs[0]?.id ?? null;
  if (b == null) return [null, null];
  const a = open?.rerun_of ?? runs.find((r) => r.id < b)?.id ?? null;
  return [a, b];
}

function delta(a: number, b: number, format: (n: number) => string): string {
  if (a === b) return "";
  const d = b - a;
  return ` (${d > 0 ? "+" : "−"}${format(Math.abs(d))})`;
}

export function RunCompare({ runs, openRun, nodeOrder, nodeName }: Props) {
  const [pair, setPair] = useState<[number | null, number | null]>(() => defaultPair(runs ?? [], openRun));
  // Until the user picks, the pair follows the default: the open run and the
  // history may arrive in either order, and the open run must win once it is known.
  const [picked, setPicked] = useState(false);
  useEffect(() => {
    if (picked) return;
    const [a, b] = defaultPair(runs ?? [], openRun);
    setPair((p) => (p[0] === a && p[1] === b ? p : [a, b]));
  }, [runs, openRun, picked]);
  const [records, setRecords] = useState<Record<number, RunRecord>>({});
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    for (const id of pair) {
      if (id == null || records[id]) continue;
      getRunRecord(id)
        .then((r) => setRecords((all) => ({ ...all, [id]: r })))
        .catch((exc) => setError(`Cannot load run ${id}: ${(exc as Error).message}`));
    }
  }, [pair, records]);
  const [a, b] = [pair[0] != null ? records[pair[0]] : undefined, pair[1] != null ? records[pair[1]] : undefined];
  const rows = useMemo(() => (a && b ? compareRuns(a.steps, b.steps, nodeOrder) : []), [a, b, nodeOrder]);
  const [open, setOpen] = useState<Set<string>>(new Set());

  // The history's runs (its filters apply, so an experiment's are left out by
  // default), plus the open run even when the history does not list it (an
  // experiment's run opened from its page), so its picker shows what is compared.
  const choices = useMemo(() => {
    const listed = runs ?? [];
    return openRun && !listed.some((r) => r.id === openRun.id) ? [...listed, openRun].sort((x, y) => y.id - x.id) : listed;
  }, [runs, openRun]);
  const picker = (side: 0 | 1) => (
    <label className="compare-pick">
      {side === 0 ? "Run A" : "Run B"}
      <select
        value={pair[side] ?? ""}
        onChange={(e) => {
          setPicked(true);
          setPair((p) => (side === 0 ? [Number(e.target.value) || null, p[1]] : [p[0], Number(e.target.value) || null]));
        }}
        aria-label={side === 0 ? "Run A" : "Run B"}
      >
        <option value="">—</option>
        {choices.map((r) => (
          <option key={r.id} value={r.id}>
            #{r.id} · {r.status}
            {r.version != null ? ` · v${r.version}` : ""}
            {r.trigger ? ` · ${r.trigger}` : ""}
          </option>
        ))}
      </select>
    </label>
  );
  const cell = (n: NodeInRun | null) =>
    n ? (
      <>
        <StatusPill status={n.status} /> {n.reused && <span className="chip">reused</span>}
      </>
    ) : (
      <span className="muted">did not run</span>
    );

  return (
    <section className="panel run-compare" aria-labelledby="compare-heading" data-testid="run-compare">
      <h2 id="compare-heading" className="panel-title">
        Compare runs
      </h2>
      <div className="compare-picks">
        {picker(0)}
        {picker(1)}
      </div>
      {error && <p className="form-error small">{error}</p>}
      {(!runs || runs.length < 2) && <p className="muted small">Run the workflow twice (or re-run from a node) to compare.</p>}
      {a && b && (
        <>
          <dl className="stats compact" data-testid="compare-totals">
            <div>
              <dt>Tokens</dt>
              <dd>
                {formatTokens(a.usage?.tokens)} → {formatTokens(b.usage?.tokens)}
                {delta(a.usage?.tokens ?? 0, b.usage?.tokens ?? 0, (n) => formatTokens(n))}
              </dd>
            </div>
            <div>
              <dt>Cost</dt>
              <dd>
                {formatCost(a.usage?.cost_usd)} → {formatCost(b.usage?.cost_usd)}
              </dd>
            </div>
            <div>
              <dt>Time</dt>
              <dd>
                {formatDuration(elapsedMs(a.started_at, a.finished_at))} → {formatDuration(elapsedMs(b.started_at, b.finished_at))}
              </dd>
            </div>
          </dl>
          {/* Four columns, usage (tokens, cost, time) stacked in one: six did not fit the 380px panel. */}
          <table className="compare-table">
            <colgroup>
              <col className="compare-col-node" />
              <col />
              <col />
              <col className="compare-col-usage" />
            </colgroup>
            <thead>
              <tr>
                <th>Node</th>
                <th>A #{a.id}</th>
                <th>B #{b.id}</th>
                <th>Tokens, cost, time</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => {
                const differs = r.differs.output || r.differs.status;
                const shown = open.has(r.node) || (differs && !open.has(`-${r.node}`));
                const toggle = () =>
                  setOpen((s) => {
                    const next = new Set(s);
                    const key = differs ? `-${r.node}` : r.node;
                    if (next.has(key)) next.delete(key);
                    else next.add(key);
                    return next;
                  });
                return (
                  <Fragment key={r.node}>
                    <tr className={differs ? "is-different" : ""} data-testid={`compare-row-${r.node}`} data-differs={differs ? "yes" : "no"}>
                      <td>
                        <button type="button" className="link" onClick={toggle} aria-expanded={shown}>
                          {nodeName(r.node)}
                        </button>
                      </td>
                      <td>{cell(r.a)}</td>
                      <td>{cell(r.b)}</td>
                      <td data-testid="compare-usage">
                        <span className="compare-usage" title="tokens">
                          {formatTokens(r.a?.tokens ?? 0)} → {formatTokens(r.b?.tokens ?? 0)} tok
                        </span>
                        <span className="compare-usage" title="cost">
                          {formatCost(r.a?.cost ?? 0)} → {formatCost(r.b?.cost ?? 0)}
                        </span>
                        <span className="compare-usage" title="time">
                          {formatDuration(r.a?.durationMs ?? null)} → {formatDuration(r.b?.durationMs ?? null)}
                        </span>
                      </td>
                    </tr>
                    {shown && (
                      <tr className="compare-detail">
                        <td colSpan={4}>
                          {r.differs.output ? (
                            <TextDiff before={r.a?.error ? `error: ${r.a.error}` : r.a?.output} after={r.b?.error ? `error: ${r.b.error}` : r.b?.output} labels={[`A #${a.id}`, `B #${b.id}`]} />
                          ) : (
                            <p className="muted small">Same output in both runs.</p>
                          )}
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
