import { describe, expect, it } from "vitest";

import { hasInputs, inputSchemaOf, inputUiSchema } from "./inputUiSchema";

describe("input form hints", () => {
  it("gives long text a text area and short text a line", () => {
    const ui = inputUiSchema({
      type: "object",
      properties: {
        spec: { type: "string", default: "A Python function that checks whether a string is a palindrome, ignoring case." },
        topic: { type: "string", default: "Caching" },
        level: { type: "string", enum: ["a", "b"] },
      },
    });
    expect(ui.spec).toMatchObject({ "ui:widget": "textarea" });
    expect(ui.topic).toBeUndefined();
    expect(ui.level).toBeUndefined();
  });

  it("renders a workflow without inputs as an empty object form", () => {
    expect(inputSchemaOf(undefined)).toEqual({ type: "object", properties: {} });
    expect(hasInputs({ type: "object", properties: {} })).toBe(false);
  });
});
