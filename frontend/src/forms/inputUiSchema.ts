/**
 * Presentation hints for the run input form, derived from the workflow's
 * `inputs` JSON Schema: long free text gets a text area.
 */
import type { UiSchema } from "@rjsf/utils";

import type { JsonSchema } from "../graph/format";

const LONG_TEXT = 60;

function wantsTextarea(schema: JsonSchema): boolean {
  if (schema.type !== "string" || schema.enum || schema.format) return false;
  const example = typeof schema.default === "string" ? schema.default : "";
  return example.length > LONG_TEXT || example.includes("\n") || (schema.maxLength ?? 0) > 200 || schema["x-multiline"] === true;
}

export function inputUiSchema(schema: JsonSchema | undefined): UiSchema {
  const ui: UiSchema = { "ui:submitButtonOptions": { norender: true } };
  for (const [name, property] of Object.entries(schema?.properties ?? {})) {
    if (wantsTextarea(property)) ui[name] = { "ui:widget": "textarea", "ui:options": { rows: 3 } };
  }
  return ui;
}

/** A schema the form can always render: an object, even when the workflow declares none. */
export function inputSchemaOf(schema: JsonSchema | undefined): JsonSchema {
  if (!schema || typeof schema !== "object") return { type: "object", properties: {} };
  return { type: "object", ...schema };
}

export function hasInputs(schema: JsonSchema | undefined): boolean {
  return Object.keys(schema?.properties ?? {}).length > 0;
}
