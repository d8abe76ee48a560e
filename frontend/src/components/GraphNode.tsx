/**
 * The one generic node: drawn from its type's description (label, category
 * colour, ports) and the run overlay (status, badges, a preview of its text).
 */
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { useState, type CSSProperties, type KeyboardEvent } from "react";

import { LIMITS } from "../forms/limits";
import { displayName } from "../graph/format";
import { categoryColor } from "../graph/nodeTypes";
import { BACK_HANDLE, INPUT_HANDLE, type StepFlowNode } from "../graph/toFlow";
import type { NodeRun } from "../run/selectors";
import { useRunOverlay } from "./RunOverlayContext";

const STATUS_TEXT: Record<string, string> = {
  idle: "not run",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  skipped: "skipped",
  cancelled: "cancelled",
  waiting: "waiting for a person",
};

function portLeft(index: number, count: number): string {
  return `${((index + 1) / (count + 1)) * 100}%`;
}

export function GraphNode({ id, data }: NodeProps<StepFlowNode>) {
  const overlay = useRunOverlay();
  const run = overlay.nodes.get(id);
  const status = run?.status ?? "idle";
  const { node, desc, ports } = data;
  const name = displayName(node);
  const typeLabel = desc?.label ?? node.type;
  const showPortLabels = ports.length > 1 || (ports.length === 1 && ports[0] !== "out");
  const classes = [
    "gnode",
    `status-${status}`,
    data.role ? `role-${data.role}` : "",
    data.fanouts.length ? "in-fanout" : "",
    showPortLabels ? "has-port-labels" : "",
    overlay.selected === id ? "is-selected" : "",
  ];
  const problems = overlay.problems?.get(id) ?? [];
  const mark = overlay.marks?.get(id);
  const warnings = overlay.warnings?.get(id) ?? [];
  if (problems.length) classes.push("has-problem");
  else if (warnings.length) classes.push("has-warning");
  if (mark) classes.push(`diff-${mark}`);
  const editable = !!overlay.editable;
  const [renaming, setRenaming] = useState(false);
  const select = () => overlay.onSelect(id);
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.target !== event.currentTarget) return;
    if (event.key === "F2" && editable) {
      event.preventDefault();
      setRenaming(true);
      return;
    }
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      select();
    }
  };

  return (
    <div
      className={classes.filter(Boolean).join(" ")}
      style={{ "--cat": categoryColor(desc?.category) } as CSSProperties}
      role="button"
      tabIndex={0}
      aria-pressed={overlay.selected === id}
      aria-label={`${name} (${typeLabel}), ${STATUS_TEXT[status]}`}
      data-testid={`node-${id}`}
      data-status={status}
      title={problems.length ? problems.join("\n") : desc?.description}
      onKeyDown={onKeyDown}
    >
      {data.hasInput && <Handle type="target" position={Position.Top} id={INPUT_HANDLE} isConnectable={editable} />}
      {data.loopTarget && <Handle type="target" position={Position.Left} id={BACK_HANDLE} isConnectable={editable} className="handle-back" />}
      <div className="gnode-head">
        <span className="gnode-type">
          {data.fanouts.length > 0 && (
            <svg className="gnode-parallel" viewBox="0 0 12 12" width="11" height="11" aria-hidden="true">
              <title>{`Runs once per item of fan-out ${data.fanouts.join(" › ")}`}</title>
              <path d="M2 1v10M6 1v10M10 1v10" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" />
            </svg>
          )}
          {typeLabel}
        </span>
        <span className="gnode-id">{node.id}</span>
      </div>
      {renaming ? (
        <input
          className="gnode-rename nodrag"
          maxLength={LIMITS.nodeName}
          aria-label={`Name of ${node.id}`}
          defaultValue={node.name ?? ""}
          placeholder={node.id}
          autoFocus
          onKeyDown={(e) => {
            e.stopPropagation();
            if (e.key === "Enter") (e.target as HTMLInputElement).blur();
            if (e.key === "Escape") setRenaming(false);
          }}
          onBlur={(e) => {
            setRenaming(false);
            overlay.onRename?.(id, e.target.value);
          }}
        />
      ) : (
        <div className="gnode-name" onDoubleClick={editable ? (e) => (e.stopPropagation(), setRenaming(true)) : undefined} title={editable ? "Double-click (or F2) to rename" : undefined}>
          {name}
        </div>
      )}
      {problems.length > 0 && (
        <div className="gnode-problem" role="note" data-testid="node-problem">
          ⚠ {problems[0]}
          {problems.length > 1 ? ` (+${problems.length - 1})` : ""}
        </div>
      )}
      {!problems.length && warnings.length > 0 && (
        <div className="gnode-warning" role="note" data-testid="node-warning" title={warnings.join("\n")}>
          △ {warnings[0]}
          {warnings.length > 1 ? ` (+${warnings.length - 1})` : ""}
        </div>
      )}
      <DesignChips node={node} />
      <NodePreview run={run} />
      <NodeBadges run={run} data={data} />
      {ports.map((port, index) => (
        <Handle
          key={port}
          type="source"
          position={Position.Bottom}
          id={port}
          isConnectable={editable}
          title={editable ? `Drag from “${port}” to connect` : undefined}
          style={{ left: portLeft(index, ports.length) }}
        />
      ))}
      {showPortLabels && (
        <div className="gnode-ports" aria-hidden="true">
          {ports.map((port, index) => (
            <span key={port} className="gnode-port" style={{ left: portLeft(index, ports.length) }}>
              {port}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}

/** What the document says about how the node runs, shown without a run: a pin, a fan-out's tolerance of failing items. */
function DesignChips({ node }: { node: StepFlowNode["data"]["node"] }) {
  const onItemError = node.type === "fanout" ? (node.config?.on_item_error as string | undefined) : undefined;
  const tolerant = onItemError === "skip" || onItemError === "collect";
  if (!node.pin && !tolerant) return null;
  return (
    <div className="gnode-chips">
      {node.pin && (
        <span className="gnode-badge tone-pin" data-testid="node-pinned" title="Pinned: this node does not run; what follows gets its pinned output. Unpin it in the Run tab's step panel.">
          ● pinned
        </span>
      )}
      {tolerant && (
        <span
          className="gnode-badge"
          data-testid="node-item-errors"
          title={onItemError === "skip" ? "A failing item is left out of the join's list; the others run on" : "A failing item's place in the join's list holds {error, item}; the others run on"}
        >
          {onItemError === "skip" ? "skips failed items" : "collects item errors"}
        </span>
      )}
    </div>
  );
}

function NodePreview({ run }: { run: NodeRun | undefined }) {
  if (!run?.preview) return null;
  return (
    <div className={`gnode-preview ${run.status === "running" ? "is-streaming" : ""}`} data-testid="node-preview">
      {run.preview}
    </div>
  );
}

function NodeBadges({ run, data }: { run: NodeRun | undefined; data: StepFlowNode["data"] }) {
  if (!run) return null;
  const badges: { key: string; text: string; title: string; tone?: string }[] = [];
  const latest = run.latest;
  if (data.role === "loop") {
    const output = latest?.output as { iteration?: number } | undefined;
    const max = data.node.config?.max_iterations;
    const iteration = output?.iteration ?? Math.max(0, run.activations - 1);
    if (iteration > 0)
      badges.push({
        key: "loop",
        text: `↻ ${iteration}${typeof max === "number" ? `/${max}` : ""}`,
        title: `Iteration ${iteration}${typeof max === "number" ? ` of at most ${max}` : ""}`,
      });
  } else if (run.activations > 1) {
    badges.push({ key: "iter", text: `×${run.activations}`, title: `Ran ${run.activations} times (loop iterations)` });
  }
  if (data.role === "fanout" && latest?.hasOutput && Array.isArray(latest.output)) {
    badges.push({ key: "items", text: `${latest.output.length} items`, title: `Fanned out over ${latest.output.length} items` });
  }
  if (run.fanout) {
    const { done, total, failed, running } = run.fanout;
    badges.push({
      key: "fanout",
      text: `${done}/${total ?? "?"}`,
      title: `${done} of ${total ?? "?"} items done${running ? `, ${running} running` : ""}${failed ? `, ${failed} failed` : ""}`,
    });
    if (failed) badges.push({ key: "failed", text: `✕ ${failed}`, title: `${failed} items failed`, tone: "danger" });
  }
  if (latest?.reused) {
    const why = latest.reused === "rerun" ? "reused from the run this one re-ran" : latest.reused === "pin" ? "its pinned output" : "reused from the cache";
    badges.push({ key: "reused", text: latest.reused === "pin" ? "pinned" : "reused", title: `Not executed: ${why} (no tokens, no cost)` });
  }
  if (latest && latest.attempt > 1) {
    badges.push({ key: "attempt", text: `try ${latest.attempt}`, title: `Attempt ${latest.attempt}`, tone: "warn" });
  }
  if (!badges.length) return null;
  return (
    <div className="gnode-badges">
      {badges.map((b) => (
        <span key={b.key} className={`gnode-badge ${b.tone ? `tone-${b.tone}` : ""}`} title={b.title} data-testid={`badge-${b.key}`}>
          {b.text}
        </span>
      ))}
    </div>
  );
}
