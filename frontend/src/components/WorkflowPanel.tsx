/**
 * The workflow itself: name, description, the inputs a run takes (a small
 * property list: name, type, required), and the settings and budgets every
 * run is held to.
 */
import { useState } from "react";

import { LIMITS } from "../forms/limits";
import type { JsonSchema, WorkflowDoc, WorkflowSettings } from "../graph/format";
import { JsonEditor } from "./JsonEditor";
import { WorkflowTags } from "./WorkflowTags";

const TYPES = ["string", "number", "integer", "boolean", "object", "array"];

interface Props {
  doc: WorkflowDoc;
  readOnly: boolean;
  /** The saved workflow's id (null before its first save: no tags yet). */
  workflowId?: number | null;
  /** May change the workflow (tags are saved at once, also while a past version is shown). */
  canEdit?: boolean;
  onChange: (change: Partial<WorkflowDoc>, coalesce: string) => void;
}

export function WorkflowPanel({ doc, readOnly, onChange, workflowId = null, canEdit = false }: Props) {
  const [asJson, setAsJson] = useState(false);
  const inputs = doc.inputs ?? { type: "object", properties: {} };
  const props = Object.entries(inputs.properties ?? {});
  const required = new Set(inputs.required ?? []);
  const setInputs = (properties: Record<string, JsonSchema>, req: string[], key: string) =>
    onChange({ inputs: { ...inputs, type: "object", properties, required: req.filter((r) => r in properties) } }, key);
  const settings = doc.settings ?? {};
  const setSetting = (name: keyof WorkflowSettings, raw: string) => {
    const next: WorkflowSettings = { ...settings };
    if (raw === "") delete next[name];
    else (next as Record<string, number>)[name] = Number(raw);
    onChange({ settings: next }, `settings.${name}`);
  };

  return (
    <section className="panel workflow-panel" aria-labelledby="workflow-heading" data-testid="workflow-panel">
      <h2 id="workflow-heading" className="panel-title">
        Workflow
      </h2>
      <div className="form-group">
        <label htmlFor="wf-name">Name</label>
        <input id="wf-name" maxLength={LIMITS.workflowName} value={doc.name} disabled={readOnly} onChange={(e) => onChange({ name: e.target.value }, "name")} />
      </div>
      <div className="form-group">
        <label htmlFor="wf-description">Description</label>
        <textarea id="wf-description" rows={2} value={doc.description ?? ""} disabled={readOnly} onChange={(e) => onChange({ description: e.target.value }, "description")} />
      </div>
      {workflowId != null && <WorkflowTags workflowId={workflowId} canEdit={canEdit} />}
      <h3 className="subhead">Inputs</h3>
      <table className="input-list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Req.</th>
            <th aria-label="Remove" />
          </tr>
        </thead>
        <tbody>
          {props.map(([name, schema], i) => (
            <tr key={i}>
              <td>
                <input
                  aria-label={`Input ${i + 1} name`}
                  defaultValue={name}
                  disabled={readOnly}
                  onBlur={(e) => {
                    const to = e.target.value.trim();
                    if (!to || to === name || to in (inputs.properties ?? {})) return;
                    const entries = props.map(([n, s]) => [n === name ? to : n, s] as const);
                    setInputs(Object.fromEntries(entries), [...required].map((r) => (r === name ? to : r)), `inputs.rename`);
                  }}
                />
              </td>
              <td>
                <select
                  aria-label={`Input ${name} type`}
                  value={String(schema.type ?? "string")}
                  disabled={readOnly}
                  onChange={(e) => setInputs({ ...inputs.properties, [name]: { ...schema, type: e.target.value } }, [...required], `inputs.${name}.type`)}
                >
                  {TYPES.map((t) => (
                    <option key={t}>{t}</option>
                  ))}
                </select>
              </td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Input ${name} required`}
                  checked={required.has(name)}
                  disabled={readOnly}
                  onChange={(e) => setInputs({ ...inputs.properties }, e.target.checked ? [...required, name] : [...required].filter((r) => r !== name), `inputs.${name}.req`)}
                />
              </td>
              <td>
                <button
                  type="button"
                  className="small"
                  aria-label={`Remove input ${name}`}
                  disabled={readOnly}
                  onClick={() => {
                    const { [name]: _gone, ...rest } = inputs.properties ?? {};
                    setInputs(rest, [...required], `inputs.remove.${name}`);
                  }}
                >
                  ✕
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button
        type="button"
        className="small"
        disabled={readOnly}
        onClick={() => {
          let i = props.length + 1;
          while (`input_${i}` in (inputs.properties ?? {})) i++;
          setInputs({ ...inputs.properties, [`input_${i}`]: { type: "string" } }, [...required], `inputs.add.${i}`);
        }}
      >
        + Add input
      </button>
      <button type="button" className="link small" aria-expanded={asJson} onClick={() => setAsJson((on) => !on)} data-testid="inputs-as-json">
        {asJson ? "Hide the JSON Schema" : "Edit as JSON Schema (defaults, descriptions, enums…)"}
      </button>
      {asJson && (
        <div className="form-group">
          <label htmlFor="wf-inputs-json">Inputs (JSON Schema)</label>
          <JsonEditor
            id="wf-inputs-json"
            label="Inputs (JSON Schema)"
            value={doc.inputs ?? { type: "object", properties: {} }}
            jsonSchema
            disabled={readOnly}
            onChange={(value) => {
              if (value && typeof value === "object" && !Array.isArray(value)) onChange({ inputs: value as JsonSchema }, "inputs.json");
            }}
          />
        </div>
      )}
      <h3 className="subhead">Settings and budgets</h3>
      <div className="settings-grid">
        {(
          [
            ["max_steps", "Max steps", "1"],
            ["max_tokens", "Max tokens", "1000"],
            ["max_cost_usd", "Max cost (USD)", "0.01"],
            ["timeout_s", "Timeout (s)", "1"],
          ] as const
        ).map(([name, label, step]) => (
          <div className="form-group" key={name}>
            <label htmlFor={`wf-${name}`}>{label}</label>
            <input id={`wf-${name}`} type="number" min={0} step={step} value={settings[name] ?? ""} disabled={readOnly} onChange={(e) => setSetting(name, e.target.value)} />
          </div>
        ))}
      </div>
    </section>
  );
}
