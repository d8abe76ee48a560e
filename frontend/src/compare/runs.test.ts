import { describe, expect, it } from "vitest";

import type { StepRecord } from "../api/endpoints";
import { compareRuns } from "./runs";
import { textDiff } from "./text";

const step = (node: string, output: unknown, extra: Partial<StepRecord> = {}): StepRecord => ({
  node_id: node,
  key: `${node}#1`,
  status: "succeeded",
  started_at: null,
  finished_at: null,
  output,
  usage: { tokens_in: 5, tokens_out: 5, cost_usd: 0.01 },
  duration_ms: 100,
  ...extra,
});

describe("compareRuns", () => {
  it("lines up nodes in graph order and says what differs", () => {
    const a = [step("draft", "hello"), step("polish", "Hello there.")];
    const b = [step("draft", "hello", { reused: true, usage: { tokens_in: 0, tokens_out: 0, cost_usd: 0 } }), step("polish", "Hi.")];
    const rows = compareRuns(a, b, ["start", "draft", "polish"]);
    expect(rows.map((r) => r.node)).toEqual(["draft", "polish"]);
    expect(rows[0].differs.output).toBe(false);
    expect(rows[0].b?.reused).toBe(true);
    expect(rows[0].differs.tokens).toBe(true);
    expect(rows[1].differs.output).toBe(true);
    expect(rows[1].differs.status).toBe(false);
  });

  it("sums a node's steps and keeps a failure", () => {
    const a = [step("each", "1", { key: "fan[0]/each#1", seq: 1 }), step("each", null, { key: "fan[1]/each#1", status: "failed", error: "boom", seq: 2 })];
    const rows = compareRuns(a, [], []);
    expect(rows[0].a).toMatchObject({ status: "failed", tokens: 20, steps: 2, error: "boom" });
    expect(rows[0].b).toBeNull();
    expect(rows[0].differs.status).toBe(true);
  });
});

describe("textDiff", () => {
  it("marks the changed words", () => {
    const parts = textDiff("Polish the draft", "Shorten the draft");
    expect(parts.filter((p) => p.kind === "removed").map((p) => p.text.trim())).toEqual(["Polish"]);
    expect(parts.filter((p) => p.kind === "added").map((p) => p.text.trim())).toEqual(["Shorten"]);
    expect(parts.filter((p) => p.kind === "same").map((p) => p.text).join("")).toContain("the draft");
  });

  it("compares non-text values as JSON", () => {
    const parts = textDiff({ a: 1 }, { a: 2 });
    expect(parts.some((p) => p.kind === "added" && p.text.includes("2"))).toBe(true);
  });
});
