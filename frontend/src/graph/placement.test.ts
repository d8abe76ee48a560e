import { describe, expect, it } from "vitest";

import type { WorkflowDoc } from "./format";
import { below, freeOffset, freeSpot, STEP } from "./placement";

const doc = (...positions: [string, number, number][]): WorkflowDoc =>
  ({ format: "orchestrator.workflow/v1", name: "t", nodes: positions.map(([id, x, y]) => ({ id, type: "transform", position: { x, y } })), edges: [] }) as WorkflowDoc;

describe("placement", () => {
  it("keeps a free spot and moves off an occupied one", () => {
    expect(freeSpot(doc(["a", 0, 0]), { x: 300, y: 0 })).toEqual({ x: 300, y: 0 });
    expect(freeSpot(doc(["a", 0, 0], ["b", STEP, STEP]), { x: 5, y: 5 })).toEqual({ x: 5 + 2 * STEP, y: 5 + 2 * STEP });
  });
  it("puts the next node below the selected one", () => {
    const d = doc(["a", 100, 100]);
    expect(below(d, d.nodes[0])).toEqual({ x: 100, y: 230 });
  });
  it("offsets a second copy past the first", () => {
    const original = doc(["a", 0, 0]);
    expect(freeOffset(original, original.nodes)).toBe(STEP);
    const withCopy = doc(["a", 0, 0], ["a_2", STEP, STEP]);
    expect(freeOffset(withCopy, [withCopy.nodes[0]])).toBe(2 * STEP);
  });
});
