/**
 * The workflow's tags, in the canvas's Workflow tab as on the list page:
 * typed separated by commas, saved at once with PATCH /api/workflows/{id}/.
 * Tags are not part of the graph, so they are not in the draft, the undo
 * history or a version (a tag change makes no version, as the API says).
 */
import { useEffect, useState, type FormEvent } from "react";

import { getWorkflow, setWorkflowTags } from "../api/endpoints";
import { messageOf } from "../hooks/usePersistence";

/** "support, Prod ,x" → ["support", "Prod", "x"]; the server trims, lower-cases and checks them. */
export function parseTags(text: string): string[] {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

export function WorkflowTags({ workflowId, canEdit }: { workflowId: number; canEdit: boolean }) {
  const [saved, setSaved] = useState<string[] | null>(null);
  const [text, setText] = useState("");
  const [state, setState] = useState<{ text: string; error: boolean } | null>(null);
  useEffect(() => {
    let live = true;
    getWorkflow(workflowId)
      .then((wf) => live && (setSaved(wf.tags ?? []), setText((wf.tags ?? []).join(", "))))
      .catch((exc) => live && setState({ text: `Cannot load the tags: ${messageOf(exc)}`, error: true }));
    return () => void (live = false);
  }, [workflowId]);
  const changed = saved !== null && parseTags(text).join(",") !== saved.join(",");
  const save = (e: FormEvent) => {
    e.preventDefault();
    setState({ text: "Saving…", error: false });
    setWorkflowTags(workflowId, parseTags(text))
      .then((wf) => (setSaved(wf.tags ?? []), setText((wf.tags ?? []).join(", ")), setState({ text: "Tags saved.", error: false })))
      .catch((exc) => setState({ text: `Tags not saved: ${messageOf(exc)}`, error: true }));
  };

  return (
    <form className="form-group workflow-tags" onSubmit={save} data-testid="workflow-tags">
      <label htmlFor="wf-tags">Tags</label>
      <div className="row">
        <input
          id="wf-tags"
          value={text}
          placeholder={canEdit ? "support, prod" : "no tags"}
          maxLength={400}
          disabled={!canEdit || saved === null}
          onChange={(e) => (setText(e.target.value), setState(null))}
          aria-describedby="wf-tags-help"
        />
        {canEdit && (
          <button type="submit" className="small" disabled={!changed}>
            Save tags
          </button>
        )}
      </div>
      <p id="wf-tags-help" className={`small ${state?.error ? "form-error" : "muted"}`} role={state?.error ? "alert" : undefined}>
        {state?.text ?? "Separated by commas; saved at once, not with the graph (no new version). The workflow list filters by them."}
      </p>
    </form>
  );
}
