/**
 * Is this a JSON Schema the server will accept? The server checks user
 * schemas with jsonschema's Draft 2020-12 meta-schema (engine/patterns.py);
 * Ajv's 2020 build checks the same meta-schema here, as the user types.
 */
import Ajv2020 from "ajv/dist/2020";

const ajv = new Ajv2020({ strict: false, validateFormats: false });

/** Null when `schema` is a valid JSON Schema, else a sentence saying where and what is wrong. */
export function schemaProblem(schema: unknown): string | null {
  if (typeof schema === "boolean") return null;
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return 'A JSON Schema is an object, e.g. {"type": "object", "properties": {}}.';
  if (ajv.validateSchema(schema as object)) return null;
  const first = ajv.errors?.[0];
  if (!first) return "Not a valid JSON Schema.";
  const where = first.instancePath ? first.instancePath.slice(1).split("/").join(".") : "the schema";
  const allowed = (first.params as { allowedValues?: unknown[] }).allowedValues;
  const what = allowed ? `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}` : first.message ?? "is not valid";
  return `Not a valid JSON Schema: ${where} ${what}.`;
}
