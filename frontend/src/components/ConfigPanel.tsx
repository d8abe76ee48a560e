/**
 * The selected node's settings: its name, its id, and a form generated from
 * its type's config JSON Schema (@rjsf). Template and expression fields are
 * code editors with completion of what is in scope at this node; free-form
 * JSON fields are JSON text.
 */
import Form from "@rjsf/core";
import type { RJSFSchema, UiSchema, WidgetProps } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useMemo, useState } from "react";

import type { JsonSchema, NodeDoc, WorkflowDoc } from "../graph/format";
import type { TypeIndex } from "../graph/nodeTypes";
import { scopeAt, type ScopeEntry } from "../graph/scope";
import { CredentialScopeContext, CredentialWidget, MODEL_NODE_TYPES, ModelWidget } from "./CredentialFields";
import { errorsInWords } from "../forms/errors";
import { LIMITS } from "../forms/limits";
import { JsonEditor } from "./JsonEditor";
import { TemplateEditor } from "./TemplateEditor";

interface Props {
  doc: WorkflowDoc;
  node: NodeDoc;
  types: TypeIndex;
  problems: string[];
  readOnly: boolean;
  onChange: (change: Partial<NodeDoc>, coalesce: string) => void;
  onRenameId: (from: string, to: string) => void;
  /** The workflow's team: whose credentials the credential field offers. */
  team?: number | null;
}

type Schema = JsonSchema & { anyOf?: JsonSchema[]; items?: JsonSchema; $ref?: string };

/**
 * The config schema as the form shows it: nullable fields (`anyOf [X, null]`)
 * become plain X (empty means unset), template/expression fields get the code
 * editor, untyped or free-form object fields get a JSON editor.
 */
export function formSchemaOf(schema: JsonSchema): { schema: RJSFSchema; ui: UiSchema } {
  const ui: UiSchema = {};
  const visit = (s: Schema, uiAt: UiSchema): Schema => {
    let out: Schema = { ...s };
    if (Array.isArray(out.anyOf)) {
      const nonNull = out.anyOf.filter((x) => x.type !== "null");
      if (nonNull.length === 1) {
        const { anyOf: _a, ...rest } = out;
        out = { ...rest, ...nonNull[0], title: rest.title, description: rest.description } as Schema;
      }
    }
    // A field that holds a JSON Schema (llm json_schema, validate schema, a form): checked as one while typed.
    if (out["x-json-schema"]) uiAt["ui:options"] = { ...(uiAt["ui:options"] as object), jsonSchema: true };
    if (out["x-template"] || out["x-expression"]) {
      uiAt["ui:widget"] = out["x-expression"] ? "expression" : "template";
      if (!out.type) out.type = ["string", "object", "array", "number", "boolean", "null"] as unknown as string;
    } else if (!out.type && !out.$ref && !out.enum) {
      uiAt["ui:widget"] = "json";
    } else if (out.type === "object" && !out.properties) {
      uiAt["ui:field"] = "jsonField";
    }
    if (out.properties) {
      const props: Record<string, Schema> = {};
      for (const [k, v] of Object.entries(out.properties)) {
        uiAt[k] = uiAt[k] ?? {};
        props[k] = visit(v as Schema, uiAt[k] as UiSchema);
      }
      out.properties = props;
    }
    if (out.items && typeof out.items === "object") {
      uiAt.items = uiAt.items ?? {};
      out.items = visit(out.items as Schema, uiAt.items as UiSchema);
    }
    for (const key of Object.keys(out)) if (key.startsWith("x-")) delete out[key];
    return out;
  };
  const root = visit(structuredClone(schema) as Schema, ui);
  const defs = (root as Record<string, unknown>).$defs as Record<string, Schema> | undefined;
  if (defs) {
    for (const [name, def] of Object.entries(defs)) {
      const defUi: UiSchema = {};
      defs[name] = visit(def, defUi);
      // Array items by $ref take their widgets from the definition.
      for (const [k, v] of Object.entries(root.properties ?? {})) {
        const items = (v as Schema).items as Schema | undefined;
        if (items?.$ref === `#/$defs/${name}`) (ui[k] as UiSchema).items = defUi;
      }
    }
  }
  delete (root as Record<string, unknown>).title;
  return { schema: root as RJSFSchema, ui };
}

function asText(value: unknown): string {
  if (value == null) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** Text typed into a template field: JSON when it is a JSON object or array, else the text. */
function fromText(text: string): unknown {
  const trimmed = text.trim();
  if ((trimmed.startsWith("{") && !trimmed.startsWith("{{")) || trimmed.startsWith("[")) {
    try {
      return JSON.parse(trimmed);
    } catch {
      // not JSON (yet): keep the text
    }
  }
  return text;
}

function makeCodeWidget(expression: boolean, scope: ScopeEntry[]) {
  return function CodeWidget(props: WidgetProps) {
    return (
      <TemplateEditor
        id={props.id}
        label={props.label || props.name}
        value={asText(props.value)}
        scope={scope}
        expression={expression}
        onChange={(text) => props.onChange(text === "" ? undefined : fromText(text))}
      />
    );
  };
}

function JsonWidget(props: WidgetProps) {
  return (
    <JsonEditor
      id={props.id}
      label={props.label || props.name}
      value={props.value}
      jsonSchema={!!props.options?.jsonSchema}
      disabled={props.disabled}
      onChange={(v) => props.onChange(v)}
    />
  );
}

/** A free-form object field (no properties in the schema): the whole value as JSON in a code editor. */
function JsonField(props: {
  idSchema?: { $id: string };
  fieldPathId?: { $id: string };
  name: string;
  formData?: unknown;
  onChange: (v: unknown, ...rest: unknown[]) => void;
  schema: JsonSchema;
  uiSchema?: UiSchema;
  disabled?: boolean;
}) {
  const id = props.fieldPathId?.$id ?? props.idSchema?.$id ?? props.name;
  const label = (props.schema.title as string | undefined) ?? props.name;
  const options = (props.uiSchema?.["ui:options"] ?? {}) as { jsonSchema?: boolean };
  return (
    <div className="form-group field">
      <label htmlFor={id}>{label}</label>
      <JsonEditor id={id} label={label} value={props.formData} jsonSchema={!!options.jsonSchema} disabled={props.disabled} onChange={(v) => props.onChange(v, [props.name])} />
      {props.schema.description && <p className="field-description">{props.schema.description}</p>}
    </div>
  );
}

const NAME_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Credential fields become pickers of the team's credentials, and a model node's model field offers the provider's models. */
function withCredentialWidgets(nodeType: string, schema: RJSFSchema, ui: UiSchema): UiSchema {
  const props = (schema.properties ?? {}) as Record<string, unknown>;
  const out: UiSchema = { ...ui };
  if ("credential" in props) out.credential = { ...(ui.credential as UiSchema), "ui:widget": "credential" };
  if ("model" in props && MODEL_NODE_TYPES.has(nodeType)) out.model = { ...(ui.model as UiSchema), "ui:widget": "model" };
  return out;
}

export function ConfigPanel({ doc, node, types, problems, readOnly, onChange, onRenameId, team = null }: Props) {
  const desc = types.get(node.type);
  const { schema, ui } = useMemo(() => {
    const form = formSchemaOf(desc?.config_schema ?? { type: "object" });
    return { schema: form.schema, ui: withCredentialWidgets(node.type, form.schema, form.ui) };
  }, [desc, node.type]);
  const credentialScope = useMemo(
    () => ({ team, nodeType: node.type, credential: typeof node.config?.credential === "string" ? (node.config.credential as string) : null }),
    [team, node.type, node.config?.credential],
  );
  const scope = useMemo(() => scopeAt(doc, types, node.id), [doc, types, node.id]);
  const widgets = useMemo(() => ({ template: makeCodeWidget(false, scope), expression: makeCodeWidget(true, scope), json: JsonWidget, credential: CredentialWidget, model: ModelWidget }), [scope]);
  const fields = useMemo(() => ({ jsonField: JsonField as never }), []);
  const transformErrors = useMemo(() => errorsInWords(schema as JsonSchema), [schema]);
  const [idDraft, setIdDraft] = useState(node.id);
  const [idError, setIdError] = useState<string | null>(null);

  return (
    <section className="panel config-panel" aria-labelledby="config-heading" data-testid="config-panel">
      <h2 id="config-heading" className="panel-title">
        {desc?.label ?? node.type} <code className="muted">{node.id}</code>
      </h2>
      {desc?.description && <p className="muted small">{desc.description}</p>}
      {problems.length > 0 && (
        <ul className="problems" aria-label="Problems with this node">
          {problems.map((p, i) => (
            <li key={i} className="form-error small">
              {p}
            </li>
          ))}
        </ul>
      )}
      <div className="form-group">
        <label htmlFor="node-name">Name</label>
        <input id="node-name" maxLength={LIMITS.nodeName} value={node.name ?? ""} placeholder={node.id} disabled={readOnly} onChange={(e) => onChange({ name: e.target.value }, `name:${node.id}`)} />
      </div>
      <div className="form-group">
        <label htmlFor="node-id">Id (templates name it as nodes.{node.id})</label>
        <input
          id="node-id"
          key={node.id}
          maxLength={LIMITS.nodeId}
          defaultValue={node.id}
          disabled={readOnly}
          onChange={(e) => {
            setIdDraft(e.target.value);
            setIdError(NAME_ID.test(e.target.value) ? null : "letters, digits and _ only, not starting with a digit");
          }}
          onBlur={() => {
            if (idDraft !== node.id && NAME_ID.test(idDraft)) {
              if (doc.nodes.some((n) => n.id === idDraft)) setIdError(`${idDraft} is taken`);
              else onRenameId(node.id, idDraft);
            }
          }}
        />
        {idError && <p className="form-error small">{idError}</p>}
      </div>
      <CredentialScopeContext.Provider value={credentialScope}>
      <Form
        key={node.id}
        schema={schema}
        uiSchema={{ ...ui, "ui:submitButtonOptions": { norender: true } }}
        formData={node.config ?? {}}
        validator={validator}
        widgets={widgets}
        fields={fields}
        disabled={readOnly}
        liveValidate={false}
        experimental_defaultFormStateBehavior={{ emptyObjectFields: "skipDefaults" }}
        showErrorList={false}
        transformErrors={transformErrors}
        noHtml5Validate
        idPrefix={`cfg_${node.id}`}
        className="rjsf"
        onChange={(event) => {
          const config = Object.fromEntries(Object.entries((event.formData ?? {}) as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== "" && v !== null));
          onChange({ config }, `config:${node.id}`);
        }}
      />
      </CredentialScopeContext.Provider>
    </section>
  );
}
