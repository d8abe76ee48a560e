/**
 * Every saved version of the workflow. Pick two to compare: the differences
 * are listed here and highlighted on the canvas (added, changed; removed
 * ones are listed). Restore saves an old version's graph as a new version.
 */
import { useCallback, useEffect, useState } from "react";

import { getVersion, listVersions, type WorkflowVersion } from "../api/endpoints";
import { diffDocs, fieldChanges, type DocDiff } from "../graph/diff";
import { formatDateTime } from "../format";
import type { WorkflowDoc } from "../graph/format";
import { FieldDiffs } from "./TextDiff";

type VersionRow = Omit<WorkflowVersion, "graph">;

interface Props {
  workflowId: number | null;
  currentVersion: number | null;
  canEdit: boolean;
  onShowDiff: (diff: DocDiff | null, graph: WorkflowDoc | null) => void;
  onRestore: (version: number, graph: WorkflowDoc) => void;
}

export function VersionHistory({ workflowId, currentVersion, canEdit, onShowDiff, onRestore }: Props) {
  const [versions, setVersions] = useState<VersionRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const [diff, setDiff] = useState<{ diff: DocDiff; before: WorkflowDoc; after: WorkflowDoc } | null>(null);

  useEffect(() => {
    if (workflowId == null) return;
    listVersions(workflowId)
      .then((v) => {
        setVersions(v);
        setError(null);
      })
      .catch((exc) => setError((exc as Error).message));
  }, [workflowId, currentVersion]);

  // A new version (saved, restored): the compare shown belongs to the old list.
  useEffect(() => setDiff(null), [currentVersion]);

  const compare = useCallback(async () => {
    if (workflowId == null || from == null || to == null) return;
    try {
      const [a, b] = await Promise.all([getVersion(workflowId, from), getVersion(workflowId, to)]);
      const d = diffDocs(a.graph, b.graph);
      setDiff({ diff: d, before: a.graph, after: b.graph });
      onShowDiff(d, b.graph);
    } catch (exc) {
      setError((exc as Error).message);
    }
  }, [workflowId, from, to, onShowDiff]);

  if (workflowId == null) return <p className="muted">Save the workflow to start its history.</p>;
  return (
    <section className="panel version-history" aria-labelledby="versions-heading" data-testid="version-history">
      <h2 id="versions-heading" className="panel-title">
        Versions
      </h2>
      {error && <p className="form-error small">{error}</p>}
      {!versions && !error && <p className="muted">Loading…</p>}
      {versions && (
        <table className="versions">
          <thead>
            <tr>
              <th>From</th>
              <th>To</th>
              <th>Version</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.number}>
                <td>
                  <input type="radio" name="diff-from" aria-label={`Compare from version ${v.number}`} checked={from === v.number} onChange={() => setFrom(v.number)} />
                </td>
                <td>
                  <input type="radio" name="diff-to" aria-label={`Compare to version ${v.number}`} checked={to === v.number} onChange={() => setTo(v.number)} />
                </td>
                <td>
                  <strong>v{v.number}</strong> {v.number === currentVersion && <span className="chip">latest</span>}
                  <div className="muted small">
                    {v.message || "—"} · {v.author ?? "someone"} · {formatDateTime(v.created_at)}
                  </div>
                </td>
                <td>
                  {v.number !== currentVersion && canEdit && (
                    <button
                      type="button"
                      className="small"
                      onClick={async () => {
                        const full = await getVersion(workflowId, v.number);
                        onRestore(v.number, full.graph);
                      }}
                    >
                      Restore
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="form-actions">
        <button type="button" className="small" disabled={from == null || to == null || from === to} onClick={compare}>
          Compare
        </button>
        {diff && (
          <button
            type="button"
            className="small"
            onClick={() => {
              setDiff(null);
              onShowDiff(null, null);
            }}
          >
            Clear
          </button>
        )}
      </div>
      {diff && <DiffSummary diff={diff.diff} before={diff.before} after={diff.after} />}
    </section>
  );
}

/** What changed; given both documents, each changed node's fields old and new side by side. */
export function DiffSummary({ diff, before, after }: { diff: DocDiff; before?: WorkflowDoc; after?: WorkflowDoc }) {
  const rows: [string, string[], string][] = [
    ["Added", diff.added, "diff-added"],
    ["Removed", diff.removed, "diff-removed"],
    ["Changed", diff.changed, "diff-changed"],
    ["Moved", diff.moved, ""],
    ["Edges added", diff.edgesAdded.map((e) => `${e.source} → ${e.target}`), "diff-added"],
    ["Edges removed", diff.edgesRemoved.map((e) => `${e.source} → ${e.target}`), "diff-removed"],
    ["Workflow fields", diff.fields, "diff-changed"],
  ];
  const shown = rows.filter(([, list]) => list.length);
  return (
    <dl className="diff-summary" data-testid="diff-summary">
      {!shown.length && <p className="muted">No differences.</p>}
      {shown.map(([label, list, cls]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>
            {list.map((x) => (
              <span key={x} className={`chip ${cls}`}>
                {x}
              </span>
            ))}
          </dd>
        </div>
      ))}
      {before && after && (diff.changed.length > 0 || diff.fields.length > 0) && (
        <div className="diff-fields">
          {[...diff.changed, ...diff.fields.map((f) => `@${f}`)].map((id) => (
            <div key={id} className="diff-node" data-testid={`diff-node-${id}`}>
              <strong>{id.startsWith("@") ? `workflow ${id.slice(1)}` : id}</strong>
              <FieldDiffs changes={fieldChanges(before, after, id)} />
            </div>
          ))}
        </div>
      )}
    </dl>
  );
}
