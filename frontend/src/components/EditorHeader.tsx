/** The editor's header: the workflow's name and version, what the canvas shows, and the toolbar. */
import { useState, type ReactNode } from "react";

import { LIMITS } from "../forms/limits";
import type { ValidationResult } from "../api/endpoints";

export function EditorHeader(props: {
  name: string;
  savedVersion: number | null;
  dirty: boolean;
  teamName: string;
  /** Chips after the team's name (presence, view only). */
  extras?: ReactNode;
  saveTitle: string;
  otherVersion: number | null;
  onEditLatest: () => void;
  comparing: boolean;
  onStopComparing: () => void;
  canUndo: boolean;
  canRedo: boolean;
  onUndo: () => void;
  onRedo: () => void;
  editable: boolean;
  onLayout: () => void;
  onFit: () => void;
  validation: ValidationResult | null;
  validationError: string | null;
  generalProblems: string[];
  onPickProblem: (node: string) => void;
  canEdit: boolean;
  saveMessage: string;
  onSaveMessage: (text: string) => void;
  saving: boolean;
  canSave: boolean;
  onSave: () => void;
  onExport: () => void;
  onImport: () => void;
  onHelp: () => void;
  demoMode: boolean;
}) {
  const p = props;
  return (
    <header className="wf-header">
      <div className="wf-title">
        <h1 title={p.name || "Untitled workflow"}>{p.name || "Untitled workflow"}</h1>
        {p.savedVersion != null && <span className="chip" data-testid="saved-version">v{p.savedVersion}</span>}
        {p.dirty && (
          <span className="chip warn" data-testid="unsaved">
            unsaved
          </span>
        )}
        <span className="muted small">{p.teamName}</span>
        {p.extras}
        {p.otherVersion != null && (
          <span className="chip warn" data-testid="showing-run-version">
            showing v{p.otherVersion}, the run's version{" "}
            <button type="button" className="link small" onClick={p.onEditLatest}>
              edit latest
            </button>
          </span>
        )}
        {p.comparing && (
          <span className="chip warn" data-testid="comparing">
            comparing versions{" "}
            <button type="button" className="link small" onClick={p.onStopComparing}>
              back to editing
            </button>
          </span>
        )}
      </div>
      <div className="toolbar" role="toolbar" aria-label="Editor">
        <button type="button" onClick={p.onUndo} disabled={!p.canUndo} title="Undo (Ctrl+Z)">
          Undo
        </button>
        <button type="button" onClick={p.onRedo} disabled={!p.canRedo} title="Redo (Ctrl+Shift+Z)">
          Redo
        </button>
        <button type="button" onClick={p.onLayout} disabled={!p.editable} title="Auto-layout (L)">
          Layout
        </button>
        <button type="button" onClick={p.onFit} title="Fit view (F)">
          Fit
        </button>
        <ValidityBadge validation={p.validation} error={p.validationError} general={p.generalProblems} onPick={p.onPickProblem} />
        <label className="sr-only" htmlFor="save-message">
          Version message
        </label>
        <input id="save-message" className="save-message" maxLength={LIMITS.versionMessage} placeholder="Version message (optional)" value={p.saveMessage} onChange={(e) => p.onSaveMessage(e.target.value)} disabled={!p.canEdit} />
        <button type="button" className="primary" onClick={p.onSave} disabled={!p.canSave} title={p.saveTitle} data-testid="save">
          {p.saving ? "Saving…" : "Save"}
        </button>
        <button type="button" onClick={p.onExport} title="Download this workflow as a JSON file">
          Export
        </button>
        <button type="button" onClick={p.onImport} title="Import a workflow file or pasted JSON as a new workflow">
          Import
        </button>
        <button type="button" onClick={p.onHelp} aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)">
          ?
        </button>
        {p.demoMode && (
          <span className="badge demo" title="No model key is configured: LLM steps are answered by the offline demo model.">
            demo
          </span>
        )}
      </div>
    </header>
  );
}

function ValidityBadge({ validation, error, general, onPick }: { validation: ValidationResult | null; error: string | null; general: string[]; onPick: (id: string) => void }) {
  const [open, setOpen] = useState(false);
  if (error) return <span className="chip warn" title={error}>unchecked</span>;
  if (!validation) return <span className="chip">checking…</span>;
  if (validation.valid) {
    const n = validation.warnings.length;
    return n ? (
      <span className="chip warn" data-testid="validity" title={validation.warnings.map((w) => (w.node ? `${w.node}: ${w.message}` : w.message)).join("\n")}>
        ✓ valid, {n} warning{n === 1 ? "" : "s"}
      </span>
    ) : (
      <span className="chip ok" data-testid="validity">
        ✓ valid
      </span>
    );
  }
  return (
    <span className="validity">
      <button type="button" className="chip danger" aria-expanded={open} onClick={() => setOpen((o) => !o)} data-testid="validity">
        ⚠ {validation.errors.length} problem{validation.errors.length === 1 ? "" : "s"}
      </button>
      {open && (
        <ul className="problem-list" role="list">
          {validation.errors.map((p, i) => (
            <li key={i}>
              {p.node ? (
                <button type="button" className="link" onClick={() => onPick(p.node!)}>
                  {p.node}
                </button>
              ) : p.edge != null ? (
                <span>edge {p.edge + 1}</span>
              ) : null}{" "}
              {p.message}
            </li>
          ))}
          {general.length > 0 && null}
        </ul>
      )}
    </span>
  );
}
