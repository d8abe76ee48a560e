/**
 * Someone saved the workflow after the version this editor started from:
 * the save was refused (409). Show what they changed, then merge (mine on
 * top of theirs; where both changed one node, pick a side per node), save
 * mine as a copy, or drop mine and take theirs.
 */
import { useMemo, useState } from "react";

import { diffDocs, fieldChanges, mergeDocs, type Side } from "../graph/diff";
import type { WorkflowDoc } from "../graph/format";
import { FieldDiffs } from "./TextDiff";
import { DiffSummary } from "./VersionHistory";

interface Props {
  base: WorkflowDoc;
  mine: WorkflowDoc;
  theirs: WorkflowDoc;
  theirVersion: number;
  message: string;
  onMerge: (merged: WorkflowDoc) => void;
  onSaveCopy: () => void;
  onTakeTheirs: () => void;
  onClose: () => void;
}

export function ConflictDialog({ base, mine, theirs, theirVersion, message, onMerge, onSaveCopy, onTakeTheirs, onClose }: Props) {
  const theirChanges = useMemo(() => diffDocs(base, theirs), [base, theirs]);
  const [choices, setChoices] = useState<Record<string, Side>>({});
  const preview = useMemo(() => mergeDocs(base, mine, theirs), [base, mine, theirs]);
  const merged = useMemo(() => mergeDocs(base, mine, theirs, choices), [base, mine, theirs, choices]);
  const open = merged.conflicts;

  return (
    <div className="dialog-backdrop">
      <div className="dialog wide" role="dialog" aria-modal="true" aria-labelledby="conflict-title" data-testid="conflict-dialog">
        <h2 id="conflict-title">Someone else saved this workflow</h2>
        <p>{message}</p>
        <h3 className="subhead">Their change (version {theirVersion})</h3>
        <DiffSummary diff={theirChanges} before={base} after={theirs} />
        {preview.conflicts.length > 0 && (
          <fieldset className="conflict-choices">
            <legend>Both of you changed these — keep whose?</legend>
            {preview.conflicts.map((id) => (
              <div key={id} className="conflict-row">
                <strong>{id.startsWith("@") ? `workflow ${id.slice(1)}` : id}</strong>
                {(["mine", "theirs"] as const).map((side) => (
                  <label key={side}>
                    <input type="radio" name={`pick-${id}`} checked={choices[id] === side} onChange={() => setChoices((c) => ({ ...c, [id]: side }))} />
                    {side === "mine" ? "Mine" : "Theirs"}
                  </label>
                ))}
                <FieldDiffs changes={fieldChanges(mine, theirs, id)} labels={["Mine", "Theirs"]} />
              </div>
            ))}
          </fieldset>
        )}
        <div className="form-actions">
          <button type="button" className="primary" disabled={open.length > 0} onClick={() => onMerge(merged.doc)} title={open.length ? "Pick a side for each node above" : undefined}>
            Merge and save
          </button>
          <button type="button" onClick={onSaveCopy}>
            Save mine as a copy
          </button>
          <button type="button" onClick={onTakeTheirs}>
            Discard mine, load theirs
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </div>
    </div>
  );
}
