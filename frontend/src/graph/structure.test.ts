import { describe, expect, it } from "vitest";

import { indexTypes, outputPortsOf } from "./nodeTypes";
import { enclosingFanouts, fanoutRegions, findBackEdges } from "./structure";
import { docFromEdges, TYPES } from "./testing";

const types = indexTypes(TYPES);

describe("findBackEdges", () => {
  it("finds the edge that closes a loop, and only it", () => {
    const doc = docFromEdges(
      { retry: ["start", "approved.false"], generate: ["retry.next"], approved: ["generate"], done: ["approved.true", "retry.done"] },
      { retry: "loop", approved: "condition", done: "output" },
    );
    const back = findBackEdges(doc);
    expect(back.size).toBe(1);
    const edge = doc.edges!.find((e) => e.source === "approved" && e.target === "retry")!;
    expect([...back][0]).toContain("approved.false->retry");
    expect(edge).toBeTruthy();
  });

  it("finds none in a graph without cycles", () => {
    expect(findBackEdges(docFromEdges({ a: ["start"], b: ["a"], c: ["a", "b"] })).size).toBe(0);
  });
});

describe("fan-out regions", () => {
  it("puts the nodes between a fan-out and its join in its region", () => {
    const doc = docFromEdges(
      { plan: ["start"], each: ["plan"], worker: ["each"], check: ["worker"], collect: ["check"], synth: ["collect"] },
      { each: "fanout", collect: "join" },
    );
    const regions = fanoutRegions(doc, types);
    expect(regions.get("each")!.join).toBe("collect");
    expect([...regions.get("each")!.members].sort()).toEqual(["check", "worker"]);
    expect(enclosingFanouts(doc, regions).get("worker")).toEqual(["each"]);
    expect(enclosingFanouts(doc, regions).get("synth")).toEqual([]);
  });

  it("matches nested fan-outs with their own joins", () => {
    const doc = docFromEdges(
      { outer: ["start"], inner: ["outer"], leaf: ["inner"], innerJoin: ["leaf"], mid: ["innerJoin"], outerJoin: ["mid"], end: ["outerJoin"] },
      { outer: "fanout", inner: "fanout", innerJoin: "join", outerJoin: "join" },
    );
    const regions = fanoutRegions(doc, types);
    expect(regions.get("outer")!.join).toBe("outerJoin");
    expect(regions.get("inner")!.join).toBe("innerJoin");
    expect(enclosingFanouts(doc, regions).get("leaf")).toEqual(["outer", "inner"]);
    expect(enclosingFanouts(doc, regions).get("mid")).toEqual(["outer"]);
  });
});

describe("outputPortsOf", () => {
  it("lists a static type's ports", () => {
    expect(outputPortsOf({ id: "c", type: "condition" }, types.get("condition"))).toEqual(["true", "false"]);
  });

  it("lists a switch's case ports, then default", () => {
    const node = { id: "s", type: "switch", config: { cases: [{ port: "billing", expression: "x" }, { port: "tech", expression: "y" }] } };
    expect(outputPortsOf(node, types.get("switch"))).toEqual(["billing", "tech", "default"]);
    expect(outputPortsOf({ id: "s", type: "switch" }, types.get("switch"))).toEqual(["default"]);
  });
});
