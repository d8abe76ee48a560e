/**
 * The open run at a glance: status, usage, duration, Cancel while it can
 * still be stopped, and its output or error once it has ended.
 */
import { elapsedMs, formatCost, formatDateTime, formatDuration, formatRelative, formatTokens } from "../format";
import { useNow } from "../hooks/useNow";
import type { Connection } from "../hooks/useRun";
import type { RunState } from "../run/reducer";
import { isRunFinished } from "../run/types";
import { AnswerForm } from "./AnswerForm";
import { DemoBadge, StatusPill } from "./StatusPill";
import { ValueView } from "./ValueView";

interface Props {
  run: RunState;
  connection: Connection;
  canCancel: boolean;
  cancelling: boolean;
  cancelError: string | null;
  currentVersion: number | null;
  workflowId: number;
  nodeName: (nodeId: string) => string;
  onCancel: () => void;
  onSelectNode: (nodeId: string) => void;
}

const CONNECTION_TEXT: Record<string, string> = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  denied: "no access",
  closed: "",
  idle: "",
};

export function RunPanel({ run, connection, canCancel, cancelling, cancelError, currentVersion, workflowId, nodeName, onCancel, onSelectNode }: Props) {
  const status = run.status ?? "queued";
  const finished = isRunFinished(status);
  // Ticks to keep the running duration moving; events re-render in between, so read the clock here.
  useNow(!finished, 500);
  const now = Date.now();
  if (run.runId == null) {
    return (
      <section className="panel run-panel" aria-label="Run">
        <h2 className="panel-title">Run</h2>
        <p className="muted">No run open. Fill in the inputs and press Run, or open a past run from the history.</p>
      </section>
    );
  }
  const summary = run.run;
  const duration = run.durationMs ?? elapsedMs(summary?.started_at, finished ? summary?.finished_at : null, now);
  const demo = summary?.demo || Object.values(run.steps).some((s) => s.demo);
  const connectionText = finished && connection.state !== "denied" ? "" : CONNECTION_TEXT[connection.state];
  const version = summary?.version;

  return (
    <section className="panel run-panel" aria-label={`Run ${run.runId}`} data-testid="run-panel">
      <div className="run-head">
        <h2 className="panel-title">Run #{run.runId}</h2>
        <StatusPill status={status} testId="run-status" />
        <span className="spacer" />
        {!finished && canCancel && (
          <button type="button" className="danger small" onClick={onCancel} disabled={cancelling} data-testid="cancel-run">
            {cancelling ? "Cancelling…" : "Cancel"}
          </button>
        )}
      </div>
      <div className="run-meta">
        {demo && <DemoBadge />}
        {connectionText && (
          <span className={`connection conn-${connection.state}`} title={connection.detail} aria-live="polite">
            {connectionText}
          </span>
        )}
        {version != null && <span>v{version}</span>}
        {summary?.triggered_by && <span>by {summary.triggered_by}</span>}
        {summary?.created_at && <span title={formatDateTime(summary.created_at)}>{formatRelative(summary.created_at, now)}</span>}
      </div>
      {connection.state === "denied" && connection.detail && (
        <p className="form-error" role="alert">
          {connection.detail}
        </p>
      )}
      {cancelError && (
        <p className="form-error" role="alert">
          {cancelError}
        </p>
      )}
      <dl className="stats" aria-label="Usage">
        <div>
          <dt>Tokens</dt>
          <dd data-testid="run-tokens">{formatTokens(run.usage.tokens)}</dd>
        </div>
        <div>
          <dt>Cost</dt>
          <dd>{formatCost(run.usage.cost_usd)}</dd>
        </div>
        <div>
          <dt>Steps</dt>
          <dd>{run.usage.steps}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(duration)}</dd>
        </div>
      </dl>
      {summary?.workflow != null && summary.workflow !== workflowId && (
        <p className="form-error" role="alert">
          This run belongs to another workflow. <a href={`/runs/${run.runId}/`}>Open it with its own workflow</a>.
        </p>
      )}
      {version != null && currentVersion != null && version !== currentVersion && summary?.workflow === workflowId && (
        <p className="muted small">
          This run used version {version}; the workflow is now at version {currentVersion}.
        </p>
      )}
      {status === "waiting" && (
        <div className="run-waiting" role="status" data-testid="run-waiting">
          {/* A run also parks while its sub-workflow runs (no worker waits for either). */}
          <strong>{waitingSteps(run).length ? "Waiting for a person." : "Waiting for its sub-workflow run."}</strong>{" "}
          {waitingSteps(run).map((step) => (
            <div key={step.id} className="waiting-step">
              <button type="button" className="link" onClick={() => onSelectNode(step.node)}>
                {nodeName(step.node)}
              </button>{" "}
              asks {askedOf(step)}.
              {run.runId != null && <AnswerForm runId={run.runId} step={step} name={nodeName(step.node)} />}
            </div>
          ))}
        </div>
      )}
      {run.error && (
        <div className={`run-error ${status === "cancelled" ? "is-cancelled" : ""}`} role="alert" data-testid="run-error-message">
          <strong>{status === "cancelled" ? "Stopped" : "Failed"}</strong>
          {run.error.node && (
            <>
              {" at "}
              <button type="button" className="link" onClick={() => onSelectNode(run.error!.node!)}>
                {nodeName(run.error.node)}
              </button>
            </>
          )}
          {": "}
          {run.error.message ?? "no message"}
        </div>
      )}
      {finished && (
        <div className="run-output">
          <h3 className="subhead">Output</h3>
          {run.output == null ? (
            <pre className="value muted" data-testid="run-output">
              (no output)
            </pre>
          ) : (
            <ValueView value={run.output} testId="run-output" />
          )}
        </div>
      )}
    </section>
  );
}

function waitingSteps(run: RunState) {
  return run.order.map((id) => run.steps[id]).filter((step) => step.status === "waiting");
}

function askedOf(step: { input?: unknown }): string {
  const assignees = (step.input as { assignees?: string[] } | undefined)?.assignees ?? [];
  return assignees.length ? assignees.join(", ") : "an owner or editor";
}
