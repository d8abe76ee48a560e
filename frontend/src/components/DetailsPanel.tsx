/**
 * The editor's right panel: the selected node's settings, the open run and
 * its steps, the timeline, the workflow's settings and the version history.
 */
import type { DocDiff } from "../graph/diff";
import { renameId, setPin, updateNode } from "../graph/edit";
import type { NodeDoc, WorkflowDoc } from "../graph/format";
import type { TypeIndex } from "../graph/nodeTypes";
import type { DocumentState } from "../hooks/useDocument";
import type { RightTab, RunView } from "../hooks/useRunView";
import { isRunFinished, type RunSummary } from "../run/types";
import { RunCompare } from "./RunCompare";
import { BudgetMeters } from "./BudgetMeters";
import { ConfigPanel } from "./ConfigPanel";
import { RunPanel } from "./RunPanel";
import { StepInspector } from "./StepInspector";
import { Timeline } from "./Timeline";
import { TriggersPanel } from "./TriggersPanel";
import { VersionHistory } from "./VersionHistory";
import { WorkflowPanel } from "./WorkflowPanel";

const TABS: readonly (readonly [RightTab, string])[] = [
  ["node", "Node"],
  ["run", "Run"],
  ["timeline", "Timeline"],
  ["compare", "Compare"],
  ["workflow", "Workflow"],
  ["versions", "Versions"],
  ["triggers", "Triggers"],
];

export function DetailsPanel(props: {
  tab: RightTab;
  onTab: (tab: RightTab) => void;
  d: DocumentState;
  rv: RunView;
  types: TypeIndex;
  selectedNode: NodeDoc | undefined;
  nodeProblems: Map<string, string[]>;
  editable: boolean;
  canEdit: boolean;
  team: number | undefined;
  shownDoc: WorkflowDoc;
  nodeName: (id: string) => string;
  onRerun: (node: string) => void;
  runs: RunSummary[] | null;
  onRenamed: (to: string) => void;
  onShowDiff: (diff: DocDiff | null, graph: WorkflowDoc | null) => void;
  onRestore: (number: number, graph: WorkflowDoc) => void;
}) {
  const { tab, onTab, d, rv, types, selectedNode, nodeProblems, editable, canEdit, shownDoc, nodeName } = props;
  const { doc, edit, savedDoc, savedVersion, wfId } = d;
  const { run, runId } = rv;
  return (
    <aside className="wf-right" aria-label="Details">
      <div className="tabs" role="tablist" aria-label="Right panel">
        {TABS.map(([t, label]) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} className={tab === t ? "tab is-on" : "tab"} onClick={() => onTab(t)}>
            {label}
          </button>
        ))}
      </div>
      {tab === "node" &&
        (selectedNode ? (
          <ConfigPanel
            key={selectedNode.id}
            doc={doc}
            node={selectedNode}
            team={props.team}
            types={types}
            problems={nodeProblems.get(selectedNode.id) ?? []}
            readOnly={!editable}
            onChange={(change, coalesce) =>
              edit((g) => {
                const current = g.nodes.find((n) => n.id === selectedNode.id);
                if (!current) return g;
                const same = Object.entries(change).every(([k, v]) => JSON.stringify((current as unknown as Record<string, unknown>)[k] ?? (k === "config" ? {} : "")) === JSON.stringify(v ?? ""));
                return same ? g : updateNode(g, selectedNode.id, change);
              }, coalesce)
            }
            onRenameId={(from, to) => {
              edit((g) => renameId(g, from, to));
              props.onRenamed(to);
            }}
          />
        ) : (
          <p className="muted panel">Select a node to configure it. Drag nodes in from the palette on the left.</p>
        ))}
      {tab === "run" && (
        <>
          {run.run?.rerun_of != null && (
            <p className="muted small panel rerun-of" data-testid="rerun-of">
              Re-run of #{run.run.rerun_of}
              {run.run.from_node ? ` from ${nodeName(run.run.from_node)}` : ""} (upstream steps reused) ·{" "}
              <button type="button" className="link small" onClick={() => onTab("compare")}>
                compare with #{run.run.rerun_of}
              </button>
            </p>
          )}
          <RunPanel
            run={run}
            connection={rv.connection}
            canCancel={canEdit}
            cancelling={rv.cancelling}
            cancelError={rv.cancelError}
            currentVersion={savedVersion}
            workflowId={wfId ?? -1}
            nodeName={nodeName}
            onCancel={rv.cancel}
            onSelectNode={rv.openNode}
          />
          {runId != null && <BudgetMeters run={run} settings={(rv.otherVersion ?? savedDoc).settings} />}
          <StepInspector
            nodes={shownDoc.nodes}
            types={types}
            run={run}
            nodeId={rv.inspectedNode}
            stepKey={rv.inspectedKey}
            following={rv.following}
            onSelectNode={rv.openNode}
            onSelectKey={rv.selectKey}
            onFollow={rv.toggleFollow}
            onRerun={canEdit && runId != null && isRunFinished(run.status) ? props.onRerun : undefined}
            doc={doc}
            workflowId={wfId}
            onPin={canEdit && editable ? (id, pin) => edit((g) => setPin(g, id, pin)) : undefined}
          />
        </>
      )}
      {tab === "timeline" && (
        <Timeline
          runId={runId}
          version={`${run.status}:${run.order.length}:${run.usage.steps}`}
          nodeName={nodeName}
          onPick={(node, key) => {
            rv.pickStep(node, key);
            onTab("run");
          }}
        />
      )}
      {tab === "compare" && <RunCompare key={runId ?? "none"} runs={props.runs} openRun={run.run} nodeOrder={shownDoc.nodes.map((n) => n.id)} nodeName={nodeName} />}
      {tab === "workflow" && (
        <WorkflowPanel doc={doc} readOnly={!editable} workflowId={wfId} canEdit={canEdit} onChange={(change, coalesce) => edit((g) => ({ ...g, ...change }), coalesce)} />
      )}
      {tab === "triggers" && <TriggersPanel workflowId={wfId} canEdit={canEdit} savedVersion={savedVersion} inputs={savedDoc.inputs} />}
      {tab === "versions" && <VersionHistory workflowId={wfId} currentVersion={savedVersion} canEdit={canEdit} onShowDiff={props.onShowDiff} onRestore={props.onRestore} />}
    </aside>
  );
}
