import { describe, expect, it } from "vitest";

import { errorInWords } from "./errors";
import { schemaProblem } from "./schemaCheck";

const inputs = { type: "object", properties: { topic: { type: "string" }, count: { type: "integer", title: "How many" } }, required: ["topic"] };

describe("errorInWords", () => {
  it("names the missing field instead of Ajv's text", () => {
    const error = { name: "required", property: ".topic", message: "must have required property 'topic'", params: { missingProperty: "topic" }, stack: "", schemaPath: "" };
    expect(errorInWords(error, inputs)).toBe("“topic” is required: fill it in.");
    expect(errorInWords({ ...error, property: "" }, inputs)).toBe("“topic” is required: fill it in.");
  });
  it("uses the title when the schema gives one and says the type in words", () => {
    const error = { name: "type", property: ".count", message: "must be integer", params: { type: "integer" }, stack: "", schemaPath: "" };
    expect(errorInWords(error, inputs)).toBe("“How many” must be a whole number.");
  });
});

describe("schemaProblem", () => {
  it("accepts a valid schema and says where an invalid one is wrong", () => {
    expect(schemaProblem({ type: "object", properties: { a: { type: "string" } } })).toBeNull();
    expect(schemaProblem({ type: "object", properties: { a: { type: "strin" } } })).toMatch(/^Not a valid JSON Schema: properties\.a\.type/);
    expect(schemaProblem([1])).toMatch(/is an object/);
  });
});
