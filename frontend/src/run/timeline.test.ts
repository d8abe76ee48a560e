import { describe, expect, it } from "vitest";

import { buildTimeline } from "./timeline";

const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();

describe("buildTimeline", () => {
  it("places steps on one axis and counts what ran in parallel", () => {
    const t = buildTimeline([
      { node_id: "start", key: "#1", status: "succeeded", started_at: at(0), finished_at: at(1) },
      { node_id: "w", key: "f[0]/w#1", status: "succeeded", started_at: at(1), finished_at: at(5) },
      { node_id: "w", key: "f[1]/w#1", status: "succeeded", started_at: at(1), finished_at: at(4) },
      { node_id: "j", key: "#1", status: "succeeded", started_at: at(5), finished_at: at(10) },
      { node_id: "s", key: "#1", status: "skipped", started_at: null, finished_at: null },
    ]);
    expect(t.totalMs).toBe(10000);
    expect(t.maxParallel).toBe(2);
    expect(t.bars.map((b) => b.node)).toEqual(["start", "w", "w", "j"]);
    expect(t.bars[3].left).toBeCloseTo(0.5);
    expect(t.bars[3].width).toBeCloseTo(0.5);
  });

  it("draws a running step up to now", () => {
    const t = buildTimeline([{ node_id: "a", key: "#1", status: "running", started_at: at(0), finished_at: null }], Date.parse(at(3)));
    expect(t.totalMs).toBe(3000);
  });
});
