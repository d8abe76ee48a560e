/**
 * The selected node's steps: its activations to pick from (loop iterations,
 * fan-out items) and, for the picked one, the streaming output, rendered
 * input, error, attempts, usage, timing and model.
 */
import { useMemo } from "react";

import { displayName, type NodeDoc, type PinDoc, type WorkflowDoc } from "../graph/format";
import type { TypeIndex } from "../graph/nodeTypes";
import { formatCost, formatDuration, formatTokens } from "../format";
import { compareKeys, describeKey } from "../run/keys";
import type { RunState, StepState } from "../run/reducer";
import { effectiveStatus, stepsOfNode } from "../run/selectors";
import { isRunFinished } from "../run/types";
import { NodeTools } from "./NodeTest";
import { DemoBadge, StatusPill } from "./StatusPill";
import { StepOutput } from "./StepOutput";
import { FieldsView } from "./ValueView";

interface Props {
  nodes: NodeDoc[];
  types: TypeIndex;
  run: RunState;
  nodeId: string | null;
  stepKey: string | null;
  following: boolean;
  onSelectNode: (nodeId: string | null) => void;
  onSelectKey: (key: string) => void;
  onFollow: () => void;
  /** Re-run from this node, reusing the recorded outputs upstream (finished runs only). */
  onRerun?: (nodeId: string) => void;
  /** The draft on the canvas, which "Test this node" runs, and its workflow. */
  doc?: WorkflowDoc;
  workflowId?: number | null;
  /** Pin or unpin a node's output in the draft (editable, finished runs only). */
  onPin?: (nodeId: string, pin: PinDoc | null) => void;
}

export function StepInspector({ nodes, types, run, nodeId, stepKey, following, onSelectNode, onSelectKey, onFollow, onRerun, doc, workflowId, onPin }: Props) {
  const runnable = useMemo(() => nodes.filter((n) => types.get(n.type)?.executable ?? n.type !== "note"), [nodes, types]);
  const node = nodes.find((n) => n.id === nodeId) ?? null;
  // The activations that ran: a loop body's skipped last pass (the loop left
  // through `done`) is not an iteration, so it gets no chip of its own.
  const steps = useMemo(() => {
    const all = nodeId ? stepsOfNode(run, nodeId) : [];
    const ran = all.filter((s) => s.status !== "skipped");
    return ran.length ? ran : all.slice(-1);
  }, [run, nodeId]);
  const step = (stepKey && steps.find((s) => s.key === stepKey)) || steps[steps.length - 1] || null;
  const runLive = run.runId != null && !isRunFinished(run.status);
  const desc = node ? types.get(node.type) : undefined;

  return (
    <section className="panel step-inspector" aria-labelledby="inspector-heading" data-testid="step-inspector">
      <div className="inspector-head">
        <h2 id="inspector-heading" className="panel-title">
          Step
        </h2>
        <label className="sr-only" htmlFor="inspect-node">
          Node to inspect
        </label>
        <select id="inspect-node" value={nodeId ?? ""} onChange={(e) => onSelectNode(e.target.value || null)}>
          <option value="">Pick a node…</option>
          {runnable.map((n) => (
            <option key={n.id} value={n.id}>
              {displayName(n)} ({n.id})
            </option>
          ))}
        </select>
        {runLive && (
          <button
            type="button"
            className={`small ${following ? "toggle-on" : ""}`}
            aria-pressed={following}
            onClick={onFollow}
            title="Show whichever step is running"
          >
            Follow live
          </button>
        )}
      </div>
      {!node && <p className="muted">Click a node on the graph to see its input, output and timing.</p>}
      {node && (
        <div className="node-summary">
          <span className="node-type-chip">{desc?.label ?? node.type}</span>
          <strong>{displayName(node)}</strong>
          <code className="muted">{node.id}</code>
          {onRerun && desc?.executable !== false && (
            <button type="button" className="small" onClick={() => onRerun(node.id)} title="A new run of the graph on the canvas (unsaved changes are saved as a version first) that reuses the recorded outputs upstream of this node whose settings did not change, and runs it and everything after it again" data-testid="rerun-from">
              ↻ Re-run from here
            </button>
          )}
        </div>
      )}
      {node && doc && desc?.executable !== false && ((run.runId != null && isRunFinished(run.status)) || doc.nodes.find((n) => n.id === node.id)?.pin) && (
        <NodeTools
          key={`${node.id}:${run.runId}`}
          node={doc.nodes.find((n) => n.id === node.id) ?? node}
          step={run.runId != null && isRunFinished(run.status) ? step : null}
          runId={run.runId != null && isRunFinished(run.status) ? run.runId : null}
          workflowId={workflowId ?? null}
          doc={doc}
          onPin={onPin}
        />
      )}
      {node && run.runId == null && <p className="muted small">{desc?.description}</p>}
      {node && run.runId != null && !steps.length && (
        <p className="muted">{isRunFinished(run.status) ? "This node did not run in this run." : "Not reached yet in this run."}</p>
      )}
      {steps.length > 1 && <Activations steps={steps} current={step} run={run} onSelectKey={onSelectKey} />}
      {step && <StepDetails step={step} run={run} />}
    </section>
  );
}

function Activations({ steps, current, run, onSelectKey }: { steps: StepState[]; current: StepState | null; run: RunState; onSelectKey: (key: string) => void }) {
  const sorted = useMemo(() => [...steps].sort((a, b) => compareKeys(a.key, b.key)), [steps]);
  return (
    <div className="activations" role="group" aria-label="Activations of this node">
      {sorted.map((s) => {
        const status = effectiveStatus(s, run);
        return (
          <button
            key={s.key}
            type="button"
            className={`activation status-${status} ${current?.key === s.key ? "is-current" : ""}`}
            aria-pressed={current?.key === s.key}
            title={`${s.key}: ${status}`}
            onClick={() => onSelectKey(s.key)}
          >
            {describeKey(s.key)}
          </button>
        );
      })}
    </div>
  );
}

function StepDetails({ step, run }: { step: StepState; run: RunState }) {
  const status = effectiveStatus(step, run);
  const streaming = status === "running";
  const tokens = step.usage ? step.usage.tokens_in + step.usage.tokens_out : null;
  return (
    <div className="step-details" data-testid="step-details" data-step-key={step.key}>
      <div className="step-meta">
        <StatusPill status={status} testId="step-status" />
        <span className="muted small" title={step.key}>
          {describeKey(step.key)}
        </span>
        {step.demo && <DemoBadge />}
        {step.reused && (
          <span className="chip" data-testid="step-reused" title="Not executed in this run: its output was reused, no tokens or cost counted">
            reused{step.reused === "rerun" ? " from the earlier run" : step.reused === "pin" ? " (pinned)" : " (cache)"}
          </span>
        )}
      </div>
      <dl className="stats compact">
        <div>
          <dt>Attempts</dt>
          <dd>{step.attempts ?? step.attempt}</dd>
        </div>
        <div>
          <dt>Tokens</dt>
          <dd title={step.usage ? `${step.usage.tokens_in} in, ${step.usage.tokens_out} out` : undefined}>{tokens == null ? "—" : formatTokens(tokens)}</dd>
        </div>
        <div>
          <dt>Cost</dt>
          <dd>{step.usage ? formatCost(step.usage.cost_usd) : "—"}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(step.durationMs)}</dd>
        </div>
        {step.model && (
          <div className="wide">
            <dt>Model</dt>
            <dd>{childRunLink(step.model)}</dd>
          </div>
        )}
      </dl>
      {step.error && (
        <div className="step-error" role="alert">
          <strong>Error:</strong> {step.error}
        </div>
      )}
      {step.retryErrors.length > 0 && (
        <ul className="retry-errors" aria-label="Errors of retried attempts">
          {step.retryErrors.map((error, i) => (
            <li key={i}>
              Attempt {i + 1} failed: {error}
            </li>
          ))}
        </ul>
      )}
      <h3 className="subhead">
        Output {streaming && <span className="streaming-dot" aria-label="streaming" />}
      </h3>
      <StepOutput value={step.hasOutput ? step.output : null} streamed={step.text} nodeType={step.nodeType} streaming={streaming} />
      {streaming && !step.text && <p className="muted small">Waiting for output…</p>}
      {step.input !== undefined && step.input !== null && (
        <details className="step-input" open={!streaming}>
          <summary>Input (rendered)</summary>
          <FieldsView value={step.input} />
        </details>
      )}
    </div>
  );
}

/** A sub-workflow step reports its child run as "run <id>": link to it, where its own steps are. */
function childRunLink(model: string) {
  const match = /^run (\d+)$/.exec(model);
  return match ? <a href={`/runs/${match[1]}/`}>sub-workflow run #{match[1]}</a> : model;
}
