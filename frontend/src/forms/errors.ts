/**
 * Form errors in words: rjsf shows Ajv's own text ("must have required
 * property 'topic'"); these say which field, by the label the form shows,
 * and what to do.
 */
import type { RJSFValidationError } from "@rjsf/utils";

import type { JsonSchema } from "../graph/format";

const TYPE_WORDS: Record<string, string> = {
  string: "text",
  number: "a number",
  integer: "a whole number",
  boolean: "yes or no",
  object: "an object",
  array: "a list",
};

/** The field's label as the form shows it: its title, else its name. */
function labelOf(schema: JsonSchema | undefined, path: string): string {
  const names = path.replace(/^\./, "").split(".").filter(Boolean);
  let at: JsonSchema | undefined = schema;
  for (const name of names) at = (at?.properties as Record<string, JsonSchema> | undefined)?.[name] ?? undefined;
  return (at?.title as string | undefined) ?? names[names.length - 1] ?? "this field";
}

export function errorInWords(error: RJSFValidationError, schema: JsonSchema | undefined): string {
  const params = (error.params ?? {}) as Record<string, unknown>;
  // rjsf already points a `required` error at the missing field (".topic"); older versions at its parent.
  let property = error.property ?? "";
  const missing = params.missingProperty as string | undefined;
  if (error.name === "required" && missing && !property.endsWith(`.${missing}`) && property !== missing) property = `${property}.${missing}`;
  const label = `“${labelOf(schema, property)}”`;
  switch (error.name) {
    case "required":
      return `${label} is required: fill it in.`;
    case "type": {
      const types = ([] as string[]).concat(params.type as string | string[]);
      return `${label} must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(" or ")}.`;
    }
    case "minLength":
      return `${label} needs at least ${String(params.limit)} character${params.limit === 1 ? "" : "s"}.`;
    case "maxLength":
      return `${label} may have at most ${String(params.limit)} characters.`;
    case "minimum":
      return `${label} must be at least ${String(params.limit)}.`;
    case "maximum":
      return `${label} must be at most ${String(params.limit)}.`;
    case "enum":
      return `${label} must be one of ${((params.allowedValues as unknown[]) ?? []).map((v) => JSON.stringify(v)).join(", ")}.`;
    case "pattern":
      return `${label} must match the pattern ${String(params.pattern)}.`;
    case "format":
      return `${label} must be a valid ${String(params.format)}.`;
    default:
      return `${label} ${error.message ?? "is not valid"}.`;
  }
}

/** rjsf's `transformErrors`: every error in words, on the field it concerns. */
export function errorsInWords(schema: JsonSchema | undefined) {
  return (errors: RJSFValidationError[]): RJSFValidationError[] =>
    errors.map((e) => {
      const message = errorInWords(e, schema);
      return { ...e, message, stack: message };
    });
}
