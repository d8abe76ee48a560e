import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import type { WorkflowDoc } from "./format";
import { needsLayout } from "./layout";
import { indexTypes } from "./nodeTypes";
import { docFromEdges, TYPES } from "./testing";
import { BACK_HANDLE, INPUT_HANDLE, toFlow, type StepFlowNode } from "./toFlow";

const types = indexTypes(TYPES);

describe("toFlow", () => {
  it("keeps the document's positions and labels non-default ports", () => {
    const doc = docFromEdges({ gate: ["start"], yes: ["gate.true"], no: ["gate.false"] }, { gate: "condition" }, true);
    const flow = toFlow(doc, types);
    expect(flow.nodes.map((n) => n.position)).toEqual(doc.nodes.map((n) => n.position));
    const labels = flow.edges.map((e) => e.label ?? null);
    expect(labels).toEqual([null, "true", "false"]);
    expect(flow.edges[1]).toMatchObject({ sourceHandle: "true", targetHandle: INPUT_HANDLE });
  });

  it("gives edges from several ports to one target a single joined label", () => {
    const doc = docFromEdges({ review: ["start"], yes: ["review.approved"], no: ["review.rejected", "review.timeout"] }, { review: "condition" });
    const labels = toFlow(doc, types).edges.map((e) => [e.source, e.target, e.label ?? null]);
    expect(labels).toEqual([
      ["start", "review", null],
      ["review", "yes", "approved"],
      ["review", "no", "rejected · timeout"],
      ["review", "no", null],
    ]);
  });

  it("lays out a document without positions, top to bottom", () => {
    const doc = docFromEdges({ a: ["start"], b: ["a"], c: ["b"] });
    expect(needsLayout(doc)).toBe(true);
    const y = Object.fromEntries(toFlow(doc, types).nodes.map((n) => [n.id, n.position.y]));
    expect(y.a).toBeGreaterThan(y.start);
    expect(y.b).toBeGreaterThan(y.a);
    expect(y.c).toBeGreaterThan(y.b);
  });

  it("lays branches out in the order of their ports, and notes beside the flow", () => {
    const doc = docFromEdges(
      { route: ["start"], a: ["route.billing"], b: ["route.tech"], c: ["route.default"] },
      { route: "switch" },
    );
    doc.nodes.find((n) => n.id === "route")!.config = { cases: [{ port: "billing", expression: "x" }, { port: "tech", expression: "y" }] };
    doc.nodes.push({ id: "memo", type: "note", config: { text: "hi" } });
    const x = Object.fromEntries(toFlow(doc, types).nodes.map((n) => [n.id, n.position.x]));
    expect(x.a).toBeLessThan(x.b);
    expect(x.b).toBeLessThan(x.c);
    expect(x.memo).toBeLessThan(Math.min(x.a, x.start));
  });

  it("draws loop back-edges distinctly, into the loop's side handle", () => {
    const doc = docFromEdges({ retry: ["start", "body.out"], body: ["retry.next"], end: ["retry.done"] }, { retry: "loop", end: "output" });
    const flow = toFlow(doc, types);
    const back = flow.edges.find((e) => e.source === "body")!;
    expect(back).toMatchObject({ targetHandle: BACK_HANDLE, className: "edge-back", data: { back: true } });
    const loop = flow.nodes.find((n) => n.id === "retry") as StepFlowNode;
    expect(loop.data.loopTarget).toBe(true);
    expect(loop.data.role).toBe("loop");
  });

  it("draws notes as notes and a fan-out's members with their fan-out", () => {
    const doc = docFromEdges({ each: ["start"], w: ["each"], j: ["w"] }, { each: "fanout", j: "join" });
    doc.nodes.push({ id: "memo", type: "note", config: { text: "Remember" } });
    const flow = toFlow(doc, types);
    expect(flow.nodes.find((n) => n.id === "memo")).toMatchObject({ type: "note", data: { text: "Remember" } });
    expect((flow.nodes.find((n) => n.id === "w") as StepFlowNode).data.fanouts).toEqual(["each"]);
  });

  it("draws every shipped template", () => {
    const dir = join(__dirname, "../../../editor/workflow_templates");
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    } catch {
      return; // the front end checked out alone
    }
    for (const file of files) {
      const doc = JSON.parse(readFileSync(join(dir, file), "utf8")) as WorkflowDoc;
      const flow = toFlow(doc, types);
      expect(flow.nodes).toHaveLength(doc.nodes.length);
      const ids = new Set(flow.nodes.map((n) => n.id));
      for (const edge of flow.edges) expect(ids.has(edge.source) && ids.has(edge.target)).toBe(true);
    }
  });
});
