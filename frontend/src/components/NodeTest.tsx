/**
 * The step panel's debugging tools for one node: pin the shown step's output
 * to the node (it then does not run; what follows gets that output), unpin,
 * and "Test this node": run it alone, as it is on the canvas now, with the
 * scope of the step shown (the open run's upstream outputs, item, index),
 * without starting a run.
 */
import { useState } from "react";

import { testNode, type NodeTestResult } from "../api/endpoints";
import { formatCost, formatDuration, formatTokens } from "../format";
import type { NodeDoc, PinDoc, WorkflowDoc } from "../graph/format";
import { describeKey } from "../run/keys";
import type { StepState } from "../run/reducer";
import { StatusPill, DemoBadge } from "./StatusPill";
import { StepOutput } from "./StepOutput";
import { FieldsView } from "./ValueView";

interface Props {
  node: NodeDoc;
  step: StepState | null;
  /** The finished run whose scope a test uses; null: no test offered. */
  runId: number | null;
  workflowId: number | null;
  /** The graph on the canvas (the draft), which the test runs. */
  doc: WorkflowDoc;
  /** Set or clear the node's pin in the draft; absent when the editor is read-only. */
  onPin?: (nodeId: string, pin: PinDoc | null) => void;
}

export function NodeTools({ node, step, runId, workflowId, doc, onPin }: Props) {
  const [result, setResult] = useState<NodeTestResult | null>(null);
  const [testing, setTesting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const canPin = onPin && step?.status === "succeeded" && step.hasOutput && !node.pin;

  const test = async () => {
    if (workflowId == null || runId == null) return;
    setTesting(true);
    setError(null);
    try {
      setResult(await testNode(workflowId, { node: node.id, run: runId, key: step?.key, graph: doc }));
    } catch (exc) {
      setError((exc as Error).message);
      setResult(null);
    } finally {
      setTesting(false);
    }
  };

  return (
    <div className="node-tools" data-testid="node-tools">
      <div className="node-tools-row">
        {workflowId != null && runId != null && onPin && (
          <button type="button" className="small" onClick={test} disabled={testing} data-testid="test-node"
            title="Run this node alone, as it is on the canvas now, with the inputs it had in the step shown (nothing is recorded, no run is started)">
            {testing ? "Testing…" : "▷ Test this node"}
          </button>
        )}
        {canPin && (
          <button type="button" className="small" data-testid="pin-output"
            title="Fix this output on the node: it will not run, and what follows gets this output (saved with the workflow)"
            onClick={() => onPin!(node.id, { output: step!.output, ports: step!.ports })}>
            Pin this output
          </button>
        )}
        {node.pin && onPin && (
          <button type="button" className="small" data-testid="unpin" onClick={() => onPin(node.id, null)} title="Let the node run again">
            Unpin
          </button>
        )}
        {node.pin && <span className="chip" data-testid="pinned-note">pinned: the node does not run</span>}
      </div>
      {error && <p className="form-error" role="alert" data-testid="test-node-error">{error}</p>}
      {result && (
        <TestResult
          result={result}
          nodeType={node.type}
          onClose={() => setResult(null)}
          onPin={onPin && result.status === "succeeded" ? () => onPin(node.id, { output: result.output, ports: result.ports }) : undefined}
        />
      )}
    </div>
  );
}

function TestResult({ result, nodeType, onClose, onPin }: { result: NodeTestResult; nodeType: string; onClose: () => void; onPin?: () => void }) {
  const tokens = result.usage.tokens_in + result.usage.tokens_out;
  return (
    <div className="test-result" data-testid="test-result" role="status">
      <div className="test-result-head">
        <strong>Test</strong>
        <StatusPill status={result.status} testId="test-status" />
        {result.demo && <DemoBadge />}
        <button type="button" className="link small test-result-close" onClick={onClose} aria-label="Close the test result">
          ✕
        </button>
      </div>
      <p className="muted small test-result-stats">
        {result.key ? `With the scope of ${describeKey(result.key)} in run #${result.run}` : `With the scope at the end of run #${result.run}`} ·{" "}
        {formatTokens(tokens)} tokens · {formatCost(result.usage.cost_usd)} · {formatDuration(result.duration_ms)} · nothing recorded
      </p>
      {result.error && (
        <div className="step-error" role="alert" data-testid="test-error">
          <strong>Error:</strong> {result.error}
        </div>
      )}
      {result.status === "succeeded" && <StepOutput value={result.output} streamed="" nodeType={nodeType} streaming={false} />}
      {onPin && (
        <button type="button" className="small" onClick={onPin} data-testid="pin-test-result" title="Fix this result on the node, to work on what follows it">
          Pin this result
        </button>
      )}
      {result.input != null && (
        <details className="step-input">
          <summary>Input (rendered)</summary>
          <div data-testid="test-input">
            <FieldsView value={result.input} />
          </div>
        </details>
      )}
    </div>
  );
}
